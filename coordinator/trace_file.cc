#include "coordinator/trace_file.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "common/text_safety.h"
#include "coordinator/dataset_file.h"
#include "simdjson.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

// The value as JSON text, shortened for an error message.
std::string Shown(simdjson::dom::element value) {
  std::string text = simdjson::minify(value);
  if (text.size() > 40) {
    size_t cut = 37;  // on a UTF-8 character boundary
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return EscapeControlCharacters(text);
}

// A whole number 1 .. kMaxTraceLength.
absl::Status ReadLength(simdjson::dom::element value, const char* field, uint32_t* out) {
  uint64_t n = 0;
  if (value.get_uint64().get(n) != simdjson::SUCCESS || n < 1 || n > kMaxTraceLength) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a whole number between 1 and ",
                                                   kMaxTraceLength, ", got ", Shown(value)));
  }
  *out = static_cast<uint32_t>(n);
  return absl::OkStatus();
}

bool Has(simdjson::dom::object object, const char* key) {
  simdjson::dom::element ignored;
  return object[key].get(ignored) == simdjson::SUCCESS;
}

absl::StatusOr<TraceEntry> ParseEntry(simdjson::dom::element element, v1::TraceFormat format) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON object per line, got ", Shown(element)));
  }
  TraceEntry entry;
  simdjson::dom::element value;
  if (object["timestamp"].get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("timestamp: required (milliseconds from the trace's start)");
  }
  double ts = 0;
  if (value.get_double().get(ts) != simdjson::SUCCESS || !std::isfinite(ts) || ts < 0 ||
      ts > 1e15) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp: must be a number >= 0 (milliseconds), got ", Shown(value)));
  }
  entry.timestamp_ms = ts;
  if (format == v1::TRACE_FORMAT_MOONCAKE) {
    for (const char* field : {"input_length", "output_length"}) {
      if (object[field].get(value) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": required in the mooncake format"));
      }
      LLMBENCH_RETURN_IF_ERROR(ReadLength(
          value, field,
          std::string_view(field) == "input_length" ? &entry.input_length : &entry.output_length));
    }
    if (object["hash_ids"].get(value) == simdjson::SUCCESS && !value.is_null()) {
      simdjson::dom::array ids;
      if (value.get_array().get(ids) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrCat("hash_ids: must be a list of whole numbers >= 0, got ", Shown(value)));
      }
      size_t index = 0;
      for (simdjson::dom::element id : ids) {
        uint64_t n = 0;
        if (id.get_uint64().get(n) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError(
              absl::StrCat("hash_ids[", index, "]: must be a whole number >= 0, got ", Shown(id)));
        }
        if (entry.hash_ids.size() == kMaxTraceHashIds) {
          return absl::InvalidArgumentError(
              absl::StrCat("hash_ids: more than ", kMaxTraceHashIds, " blocks"));
        }
        entry.hash_ids.push_back(n);
        ++index;
      }
    }
    return entry;
  }
  if (object["prompt"].get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("prompt: required in the plain format");
  }
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: must be a string, got ", Shown(value)));
  }
  if (absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())).empty()) {
    return absl::InvalidArgumentError("prompt: must not be empty");
  }
  entry.prompt = std::string(text);
  if (object["max_tokens"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    uint32_t n = 0;
    LLMBENCH_RETURN_IF_ERROR(ReadLength(value, "max_tokens", &n));
    entry.max_tokens = n;
  }
  return entry;
}

}  // namespace

const char* TraceFormatName(v1::TraceFormat format) {
  return format == v1::TRACE_FORMAT_PLAIN ? "plain" : "mooncake";
}

absl::StatusOr<TraceFile> ParseTrace(std::string_view input, const std::string& shown,
                                     v1::TraceFormat format) {
  const absl::string_view content(input.data(), input.size());
  TraceFile trace;
  bool detect = format != v1::TRACE_FORMAT_MOONCAKE && format != v1::TRACE_FORMAT_PLAIN;
  trace.format = detect ? v1::TRACE_FORMAT_MOONCAKE : format;
  simdjson::dom::parser parser;
  size_t line_number = 0;
  size_t start = 0;
  double previous_max = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == absl::string_view::npos) end = content.size();
    ++line_number;
    const absl::string_view line = absl::StripAsciiWhitespace(content.substr(start, end - start));
    start = end + 1;
    if (line.empty()) continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(shown, ":", line_number, ": ", why));
    };
    if (trace.entries.size() == kMaxTraceEntries) {
      return absl::InvalidArgumentError(absl::StrCat(
          shown, ":", line_number, ": more than ", kMaxTraceEntries,
          " entries, the limit for a trace (replay a window with end_seconds / --trace-end)"));
    }
    simdjson::dom::element element;
    if (auto error = parser.parse(line.data(), line.size(), true).get(element);
        error != simdjson::SUCCESS) {
      return fail(absl::StrCat("invalid JSON: ", simdjson::error_message(error)));
    }
    if (detect) {
      simdjson::dom::object object;
      if (element.get_object().get(object) != simdjson::SUCCESS) {
        return fail(absl::StrCat("expected a JSON object per line, got ", Shown(element)));
      }
      if (Has(object, "input_length") || Has(object, "hash_ids")) {
        trace.format = v1::TRACE_FORMAT_MOONCAKE;
      } else if (Has(object, "prompt")) {
        trace.format = v1::TRACE_FORMAT_PLAIN;
      } else {
        return fail(
            "cannot tell the trace format: expected \"input_length\" (mooncake) or \"prompt\" "
            "(plain); set load.trace.format (--trace-format)");
      }
      detect = false;
    }
    absl::StatusOr<TraceEntry> entry = ParseEntry(element, trace.format);
    if (!entry.ok()) return fail(entry.status().message());
    entry->line = static_cast<uint32_t>(line_number);
    if (!trace.entries.empty() && entry->timestamp_ms < previous_max) ++trace.reordered;
    previous_max = std::max(previous_max, entry->timestamp_ms);
    trace.entries.push_back(*std::move(entry));
  }
  if (trace.entries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(shown, ": empty trace (no entries)"));
  }
  if (trace.reordered > 0) {
    std::stable_sort(
        trace.entries.begin(), trace.entries.end(),
        [](const TraceEntry& a, const TraceEntry& b) { return a.timestamp_ms < b.timestamp_ms; });
  }
  return trace;
}

absl::StatusOr<TraceFile> LoadTraceFile(const std::string& resolved, const std::string& shown,
                                        v1::TraceFormat format) {
  absl::StatusOr<int> opened = OpenDatasetFile(resolved);
  if (!opened.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(shown, ": cannot read: ", opened.status().message()));
  }
  std::string content;
  absl::StatusOr<bool> over = ReadToEndBounded(*opened, kMaxTraceFileBytes, &content);
  if (!over.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(shown, ": cannot read: ", over.status().message()));
  }
  if (*over) {
    return absl::InvalidArgumentError(absl::StrCat(shown, ": more than ", kMaxTraceFileBytes,
                                                   " bytes, the limit for a trace file"));
  }
  return ParseTrace(content, shown, format);
}

}  // namespace llmbench::coordinator
