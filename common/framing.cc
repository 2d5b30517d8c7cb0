#include "common/framing.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace llmbench {
namespace {

// Where the next line terminator starts in [p, end), or nullptr. '\n' is found with memchr;
// '\r' (rare in practice) is then looked for only before that '\n'.
const char* FindLineEnd(const char* p, const char* end) {
  const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  const char* limit = lf != nullptr ? lf : end;
  const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(limit - p)));
  return cr != nullptr ? cr : lf;
}

absl::Status SseLineTooLong(size_t cap) {
  return absl::ResourceExhaustedError(absl::StrCat("SSE line exceeds ", cap, " bytes"));
}

absl::Status NdjsonLineTooLong(size_t cap) {
  return absl::ResourceExhaustedError(absl::StrCat("NDJSON line exceeds ", cap, " bytes"));
}

}  // namespace

// SseParser
//
// Implementation notes (WHATWG "interpreting an event stream"):
// - A line ends at "\r\n", "\n" or a lone "\r". A "\r" that ends one slice and a "\n" that
//   starts the next are one terminator (skip_lf_).
// - Only the unfinished tail of a slice is copied into line_; complete lines are parsed in
//   place.
// - `data` and `error` lines append to the event's data (joined by '\n'); the `id` value
//   persists across events as WHATWG's "last event ID" does; `event` resets after each
//   dispatch; `retry` and unknown fields are ignored.
// - Besides the per-line cap, the data of one event is capped at the same number of bytes,
//   so that a stream of data lines without a blank line cannot grow memory without bound.

SseParser::SseParser(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

bool SseParser::HasPartialEvent() const {
  return !line_.empty() || has_data_ || !event_.empty();
}

absl::Status SseParser::Feed(std::string_view bytes,
                             absl::FunctionRef<void(const SseEvent&)> on_event) {
  if (failed_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "SSE parser unusable after an earlier error (a line or event exceeded ",
        max_line_bytes_, " bytes)"));
  }
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  if (skip_lf_ && p != end) {
    if (*p == '\n') ++p;
    skip_lf_ = false;
  }
  while (p != end) {
    const char* eol = FindLineEnd(p, end);
    if (eol == nullptr) {
      // Unfinished line: buffer it (bounded).
      const size_t n = static_cast<size_t>(end - p);
      if (line_.size() + n > max_line_bytes_) {
        failed_ = true;
        line_.clear();
        return SseLineTooLong(max_line_bytes_);
      }
      line_.append(p, n);
      break;
    }
    const size_t n = static_cast<size_t>(eol - p);
    if (line_.size() + n > max_line_bytes_) {
      failed_ = true;
      line_.clear();
      return SseLineTooLong(max_line_bytes_);
    }
    if (line_.empty()) {
      ProcessLine(std::string_view(p, n), on_event);
    } else {
      line_.append(p, n);
      ProcessLine(line_, on_event);
      line_.clear();
    }
    if (failed_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("SSE event data exceeds ", max_line_bytes_, " bytes"));
    }
    p = eol + 1;
    if (*eol == '\r') {
      if (p == end) {
        skip_lf_ = true;
      } else if (*p == '\n') {
        ++p;
      }
    }
  }
  return absl::OkStatus();
}

void SseParser::ProcessLine(std::string_view line,
                            absl::FunctionRef<void(const SseEvent&)> on_event) {
  if (line.empty()) {
    if (has_data_) {
      SseEvent ev;
      ev.event = event_;
      ev.data = data_;
      ev.id = id_;
      ev.error_field = error_field_;
      on_event(ev);
    }
    data_.clear();
    event_.clear();
    has_data_ = false;
    error_field_ = false;
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  const bool is_data = field == "data";
  const bool is_error = !is_data && field == "error";
  if (is_data || is_error) {
    const size_t needed = data_.size() + (has_data_ ? 1 : 0) + value.size();
    if (needed > max_line_bytes_) {
      failed_ = true;
      data_.clear();
      return;
    }
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
    if (is_error) error_field_ = true;
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    // WHATWG: an id containing U+0000 is ignored.
    if (value.find('\0') == std::string_view::npos) id_.assign(value);
  }
  // "retry" and unknown fields: ignored.
}

// NdjsonParser

NdjsonParser::NdjsonParser(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

absl::Status NdjsonParser::Feed(std::string_view bytes,
                                absl::FunctionRef<void(std::string_view)> on_line) {
  if (failed_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NDJSON parser unusable after an earlier error (a line exceeded ", max_line_bytes_,
        " bytes)"));
  }
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p != end) {
    const char* lf =
        static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (lf == nullptr) {
      // Unfinished line. It may still end in a '\r' that is dropped, hence the +1 slack.
      const size_t n = static_cast<size_t>(end - p);
      if (line_.size() + n > max_line_bytes_ + 1) {
        failed_ = true;
        line_.clear();
        return NdjsonLineTooLong(max_line_bytes_);
      }
      line_.append(p, n);
      break;
    }
    if (line_.size() + static_cast<size_t>(lf - p) > max_line_bytes_ + 1) {
      failed_ = true;
      line_.clear();
      return NdjsonLineTooLong(max_line_bytes_);
    }
    std::string_view line;
    if (line_.empty()) {
      line = std::string_view(p, static_cast<size_t>(lf - p));
    } else {
      line_.append(p, static_cast<size_t>(lf - p));
      line = line_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line_bytes_) {
      failed_ = true;
      line_.clear();
      return NdjsonLineTooLong(max_line_bytes_);
    }
    if (!line.empty()) on_line(line);
    line_.clear();
    p = lf + 1;
  }
  return absl::OkStatus();
}

}  // namespace llmbench
