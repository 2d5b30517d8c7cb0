#include "engines/protocol_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace llmbench::engines {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";         // U+2026

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    const unsigned char min = k == 1 ? lo : 0x80;
    const unsigned char max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) return 0;
  }
  return len;
}

std::optional<simdjson::dom::element> GetField(simdjson::dom::element obj, std::string_view key) {
  simdjson::dom::object object;
  if (obj.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

}  // namespace

GenerationSettings ResolveGeneration(const llmbench::v1::Generation& generation) {
  GenerationSettings settings;
  if (generation.has_max_tokens()) settings.max_tokens = generation.max_tokens();
  settings.ignore_eos = generation.ignore_eos();
  if (generation.has_temperature() && std::isfinite(generation.temperature())) {
    settings.temperature = generation.temperature();
  }
  if (generation.has_seed()) settings.seed = generation.seed();
  if (generation.has_stream()) settings.stream = generation.stream();
  settings.reply_text_bytes = generation.reply_text_bytes();
  return settings;
}

void AppendJsonDouble(std::string* out, double value) {
  if (!std::isfinite(value)) value = 0;  // JSON has no NaN/Inf; validation rejects them earlier
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) {
    out->push_back('0');
    return;
  }
  out->append(buf, end);
}

std::string_view StripWhitespace(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out.append(kReplacementChar);
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string TruncateUtf8(std::string_view s, size_t max_bytes) {
  std::string clean = SanitizeUtf8(s);
  if (clean.size() <= max_bytes) return clean;
  if (max_bytes < kEllipsis.size()) return "";
  size_t cut = max_bytes - kEllipsis.size();
  // Back up to the start of a character (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) --cut;
  clean.resize(cut);
  clean.append(kEllipsis);
  return clean;
}

simdjson::simdjson_result<simdjson::dom::element> JsonParser::Parse(std::string_view json) {
  const size_t needed = json.size() + simdjson::SIMDJSON_PADDING;
  if (buffer_.size() < needed) buffer_.resize(needed);
  if (!json.empty()) std::memcpy(buffer_.data(), json.data(), json.size());
  std::memset(buffer_.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  return parser_.parse(buffer_.data(), json.size(), /*realloc_if_needed=*/false);
}

JsonParser& ThreadJsonParser() {
  static thread_local JsonParser parser;
  return parser;
}

std::optional<std::string_view> GetString(simdjson::dom::element obj, std::string_view key) {
  auto field = GetField(obj, key);
  if (!field) return std::nullopt;
  std::string_view value;
  if (field->get_string().get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::optional<int64_t> GetInt(simdjson::dom::element obj, std::string_view key) {
  auto field = GetField(obj, key);
  if (!field) return std::nullopt;
  switch (field->type()) {
    case simdjson::dom::element_type::INT64: {
      int64_t v = 0;
      if (field->get_int64().get(v) == simdjson::SUCCESS) return v;
      return std::nullopt;
    }
    case simdjson::dom::element_type::UINT64: {
      uint64_t v = 0;
      if (field->get_uint64().get(v) != simdjson::SUCCESS) return std::nullopt;
      return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                 ? std::numeric_limits<int64_t>::max()
                 : static_cast<int64_t>(v);
    }
    case simdjson::dom::element_type::DOUBLE: {
      double v = 0;
      if (field->get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v)) {
        return std::nullopt;
      }
      if (v >= 9.2e18 || v <= -9.2e18) return std::nullopt;
      return static_cast<int64_t>(std::llround(v));
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> GetDouble(simdjson::dom::element obj, std::string_view key) {
  auto field = GetField(obj, key);
  if (!field) return std::nullopt;
  double v = 0;
  if (field->get_double().get(v) == simdjson::SUCCESS) return v;  // also converts integers
  return std::nullopt;
}

std::optional<bool> GetBool(simdjson::dom::element obj, std::string_view key) {
  auto field = GetField(obj, key);
  if (!field) return std::nullopt;
  bool v = false;
  if (field->get_bool().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<simdjson::dom::element> GetObject(simdjson::dom::element obj,
                                                std::string_view key) {
  auto field = GetField(obj, key);
  if (!field || !field->is_object()) return std::nullopt;
  return field;
}

std::optional<simdjson::dom::array> GetArray(simdjson::dom::element obj, std::string_view key) {
  auto field = GetField(obj, key);
  if (!field) return std::nullopt;
  simdjson::dom::array v;
  if (field->get_array().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

uint32_t ClampToUint32(int64_t value) {
  if (value < 0) return 0;
  if (value > static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
    return std::numeric_limits<uint32_t>::max();
  }
  return static_cast<uint32_t>(value);
}

std::optional<int64_t> MillisToNanos(double ms) {
  if (!std::isfinite(ms)) return std::nullopt;
  const double ns = ms * 1e6;
  if (ns >= 9.2e18 || ns <= -9.2e18) return std::nullopt;
  return static_cast<int64_t>(std::llround(ns));
}

std::optional<std::string> ErrorMessageFromJson(simdjson::dom::element root) {
  if (!root.is_object()) return std::nullopt;
  auto error = GetField(root, "error");
  if (error && !error->is_null()) {
    std::string_view text;
    if (error->get_string().get(text) == simdjson::SUCCESS) return std::string(text);
    if (error->is_object()) {
      if (auto message = GetString(*error, "message")) return std::string(*message);
    }
    return simdjson::minify(*error);
  }
  if (GetString(root, "object") == std::optional<std::string_view>("error")) {
    if (auto message = GetString(root, "message")) return std::string(*message);
    return simdjson::minify(root);
  }
  return std::nullopt;
}

EngineError ClassifyHttpError(int http_status, std::string_view body) {
  EngineError result;
  std::string message;
  std::string error_type;
  simdjson::dom::element root;
  if (ThreadJsonParser().Parse(body).get(root) == simdjson::SUCCESS) {
    if (auto m = ErrorMessageFromJson(root)) message = std::move(*m);
    if (auto t = GetString(root, "error_type")) error_type = std::string(*t);
  }
  if (message.empty()) {
    message = std::string(StripWhitespace(body));
  }
  if (http_status < 400) {
    message = absl::StrCat("unexpected HTTP status ", http_status,
                           message.empty() ? "" : ": ", message);
  } else if (message.empty()) {
    message = absl::StrCat("HTTP ", http_status, " with an empty body");
  }
  if (http_status == 429 || error_type == "overloaded") {
    result.error_class = llmbench::v1::ERROR_CLASS_OVERLOADED;
  } else if (http_status == 503 && absl::StrContains(message, "server busy")) {
    result.error_class = llmbench::v1::ERROR_CLASS_OVERLOADED;
  } else if (http_status >= 500) {
    result.error_class = llmbench::v1::ERROR_CLASS_HTTP_5XX;
  } else {
    result.error_class = llmbench::v1::ERROR_CLASS_HTTP_4XX;
  }
  result.message = TruncateUtf8(message, kMaxErrorMessageBytes);
  return result;
}

// ---- ResponseParserBase ------------------------------------------------------------------

ResponseParserBase::ResponseParserBase(llmbench::v1::RequestRecord* record, bool stream)
    : record_(record), stream_(stream) {}

void ResponseParserBase::OnStatus(int http_status, const HeaderList& headers) {
  status_seen_ = true;
  http_status_ = http_status;
  record_->set_http_status(http_status < 0 ? 0u : static_cast<uint32_t>(http_status));
  if (http_status >= 200 && http_status < 300) ConsumeHeaders(headers);
}

void ResponseParserBase::OnBody(std::string_view bytes, int64_t now_ns) {
  record_->set_bytes_received(record_->bytes_received() + bytes.size());
  last_body_ns_ = now_ns;
  const bool success = http_status_ >= 200 && http_status_ < 300;
  if (!success) {
    const size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, body_.size());
    body_.append(bytes.substr(0, room));
    return;
  }
  if (failed()) return;
  if (stream_) {
    ConsumeStream(bytes, now_ns);
    return;
  }
  if (body_overflow_) return;
  if (body_.size() + bytes.size() > kMaxResponseBodyBytes) {
    body_overflow_ = true;
    body_.clear();
    body_.shrink_to_fit();
    Fail(llmbench::v1::ERROR_CLASS_PARSE,
         absl::StrCat("response body exceeds ", kMaxResponseBodyBytes, " bytes"));
    return;
  }
  body_.append(bytes);
}

void ResponseParserBase::Finish(const TransportError& transport_error) {
  if (finished_) return;
  finished_ = true;
  if (transport_error.error_class != llmbench::v1::ERROR_CLASS_NONE) {
    Fail(transport_error.error_class, transport_error.message);
  } else if (!status_seen_) {
    Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "response ended before the status line");
  } else if (http_status_ < 200 || http_status_ >= 300) {
    EngineError error = ClassifyHttpError(http_status_, body_);
    Fail(error.error_class, error.message);
  } else if (!failed()) {
    if (stream_) {
      EndStream();
    } else if (StripWhitespace(body_).empty()) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "response body is empty");
    } else {
      simdjson::dom::element root;
      auto error = ThreadJsonParser().Parse(body_).get(root);
      if (error != simdjson::SUCCESS) {
        Fail(llmbench::v1::ERROR_CLASS_PARSE,
             absl::StrCat("invalid JSON in response body: ", simdjson::error_message(error)));
      } else if (!root.is_object()) {
        Fail(llmbench::v1::ERROR_CLASS_PARSE, "response body is not a JSON object");
      } else {
        ConsumeBody(root, last_body_ns_);
      }
    }
  }
  body_.clear();
  Finalize();
  if (record_->has_output_tokens_reported()) {
    record_->set_output_tokens(record_->output_tokens_reported());
    record_->set_output_token_source(llmbench::v1::TOKEN_SOURCE_ENGINE);
  } else {
    record_->set_output_tokens(record_->content_chunks());
    record_->set_output_token_source(llmbench::v1::TOKEN_SOURCE_CHUNKS);
  }
}

void ResponseParserBase::AddContentChunk(int64_t now_ns) {
  if (!record_->has_first_token_ns()) record_->set_first_token_ns(now_ns);
  if (record_->chunk_offsets_ns_size() < kMaxChunkOffsets) {
    record_->add_chunk_offsets_ns(now_ns - record_->sent_ns());
  } else {
    record_->set_chunk_offsets_dropped(record_->chunk_offsets_dropped() + 1);
  }
  record_->set_content_chunks(record_->content_chunks() + 1);
}

void ResponseParserBase::Fail(llmbench::v1::ErrorClass error_class, std::string_view message) {
  if (failed()) return;
  record_->set_error_class(error_class);
  record_->set_error_message(TruncateUtf8(message, kMaxErrorMessageBytes));
}

bool ResponseParserBase::failed() const {
  return record_->error_class() != llmbench::v1::ERROR_CLASS_NONE;
}

void ResponseParserBase::FailFraming(const absl::Status& status) {
  Fail(llmbench::v1::ERROR_CLASS_PARSE, absl::StrCat("framing error: ", status.message()));
}

void AppendChatMessages(std::string* out, const llmbench::v1::Prompt& prompt) {
  out->append(",\"messages\":[");
  if (!prompt.system().empty()) {
    out->append("{\"role\":\"system\",\"content\":");
    AppendJsonString(*out, prompt.system());
    out->append("},");
  }
  // Multi-turn: the conversation so far, oldest first (worker/conversation.h).
  for (const llmbench::v1::ChatMessage& message : prompt.history()) {
    out->append("{\"role\":");
    AppendJsonString(*out, message.role());
    out->append(",\"content\":");
    AppendJsonString(*out, message.content());
    out->append("},");
  }
  out->append("{\"role\":\"user\",\"content\":");
  AppendJsonString(*out, prompt.text());
  out->append("}]");
}

void ResponseParserBase::AppendReplyText(std::string_view text) {
  if (reply_text_limit_ == 0 || record_->reply_text_truncated() || text.empty()) return;
  std::string* kept = record_->mutable_reply_text();
  const size_t room = reply_text_limit_ > kept->size() ? reply_text_limit_ - kept->size() : 0;
  if (text.size() <= room) {
    kept->append(text.data(), text.size());
    return;
  }
  size_t cut = room;  // back up to the start of a character (continuation bytes: 10xxxxxx)
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  kept->append(text.data(), cut);
  record_->set_reply_text_truncated(true);
}

}  // namespace llmbench::engines
