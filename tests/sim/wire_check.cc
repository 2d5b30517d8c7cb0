#include "tests/sim/wire_check.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmbench::testing {
namespace {

std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }

std::chrono::steady_clock::time_point ArrivalOf(size_t end_offset,
                                                const std::vector<HttpChunk>& chunks) {
  size_t seen = 0;
  for (const HttpChunk& chunk : chunks) {
    seen += chunk.data.size();
    if (seen >= end_offset) return chunk.at;
  }
  return chunks.empty() ? std::chrono::steady_clock::time_point{} : chunks.back().at;
}

std::string Excerpt(absl::string_view body, size_t offset) {
  absl::string_view rest = body.substr(std::min(offset, body.size()), 80);
  std::string out;
  for (char c : rest) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* TypeName(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "int";
    case simdjson::dom::element_type::DOUBLE:
      return "double";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "bool";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "?";
}

std::vector<std::string> ObjectKeys(simdjson::dom::object obj, const ShapeOptions& options) {
  std::vector<std::string> keys;
  for (auto field : obj) {
    std::string key(field.key);
    if (options.ignore_keys.count(key) == 0) keys.push_back(std::move(key));
  }
  return keys;
}

void Compare(simdjson::dom::element want, simdjson::dom::element got, const std::string& path,
             const std::string& key, const ShapeOptions& options,
             std::vector<std::string>* diffs) {
  std::string want_type = TypeName(want);
  std::string got_type = TypeName(got);
  if (want_type != got_type) {
    bool nullable = options.nullable_keys.count(key) > 0 &&
                    (want_type == "null" || got_type == "null");
    if (!nullable) {
      diffs->push_back(absl::StrCat(path, ": type ", got_type, ", fixture has ", want_type));
    }
    return;
  }
  if (want_type == "object") {
    simdjson::dom::object want_obj = want.get_object().value_unsafe();
    simdjson::dom::object got_obj = got.get_object().value_unsafe();
    std::vector<std::string> got_keys = ObjectKeys(got_obj, options);
    std::vector<std::string> want_keys;
    for (std::string& k : ObjectKeys(want_obj, options)) {
      bool optional_absent = options.optional_keys.count(k) > 0 &&
                             std::find(got_keys.begin(), got_keys.end(), k) == got_keys.end();
      if (!optional_absent) want_keys.push_back(std::move(k));
    }
    if (want_keys != got_keys) {
      diffs->push_back(absl::StrCat(path, ": keys [", absl::StrJoin(got_keys, ","),
                                    "], fixture has [", absl::StrJoin(want_keys, ","), "]"));
      return;
    }
    for (const std::string& k : got_keys) {
      Compare(want_obj[k].value_unsafe(), got_obj[k].value_unsafe(), path + "/" + k, k, options,
              diffs);
    }
  } else if (want_type == "array") {
    simdjson::dom::array want_arr = want.get_array().value_unsafe();
    simdjson::dom::array got_arr = got.get_array().value_unsafe();
    size_t want_size = want_arr.size();
    size_t i = 0;
    for (simdjson::dom::element item : got_arr) {
      if (want_size == 0) {
        diffs->push_back(absl::StrCat(path, ": non-empty array, fixture's is empty"));
        return;
      }
      Compare(want_arr.at(std::min(i, want_size - 1)).value_unsafe(), item,
              absl::StrCat(path, "/", i), key, options, diffs);
      ++i;
    }
  }
}

}  // namespace

std::vector<WireEvent> SplitSse(absl::string_view body, const std::vector<HttpChunk>& chunks,
                                absl::string_view prefix, std::string* framing_error) {
  std::vector<WireEvent> events;
  framing_error->clear();
  size_t pos = 0;
  while (pos < body.size()) {
    if (body.substr(pos, prefix.size()) != prefix) {
      *framing_error = absl::StrCat("byte ", pos, ": expected '", prefix, "', got '",
                                    Excerpt(body, pos), "'");
      return events;
    }
    size_t start = pos + prefix.size();
    size_t end = body.find("\n\n", start);
    if (end == absl::string_view::npos) {
      *framing_error = absl::StrCat("byte ", pos, ": event not ended by a blank line: '",
                                    Excerpt(body, pos), "'");
      return events;
    }
    absl::string_view payload = body.substr(start, end - start);
    if (payload.find('\n') != absl::string_view::npos) {
      *framing_error = absl::StrCat("byte ", pos, ": multi-line event: '", Excerpt(body, pos), "'");
      return events;
    }
    events.push_back({std::string(payload), ArrivalOf(end + 2, chunks)});
    pos = end + 2;
  }
  return events;
}

std::vector<WireEvent> SplitNdjson(absl::string_view body, const std::vector<HttpChunk>& chunks,
                                   std::string* framing_error) {
  std::vector<WireEvent> events;
  framing_error->clear();
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == absl::string_view::npos) {
      *framing_error =
          absl::StrCat("byte ", pos, ": last line has no '\\n': '", Excerpt(body, pos), "'");
      return events;
    }
    if (end == pos) {
      *framing_error = absl::StrCat("byte ", pos, ": empty line");
      return events;
    }
    events.push_back({std::string(body.substr(pos, end - pos)), ArrivalOf(end + 1, chunks)});
    pos = end + 1;
  }
  return events;
}

std::string ReadFixture(absl::string_view relative) {
  std::ifstream in(absl::StrCat(LLMBENCH_SOURCE_DIR, "/tests/fixtures/engines/", relative),
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Json::Json(absl::string_view text) : parser_(std::make_unique<simdjson::dom::parser>()) {
  auto result = parser_->parse(text.data(), text.size(), /*realloc_if_needed=*/true);
  if (result.error() != simdjson::SUCCESS) {
    error_ = absl::StrCat("invalid JSON (", simdjson::error_message(result.error()), "): ",
                          text.substr(0, 200));
    return;
  }
  root_ = result.value_unsafe();
}

std::optional<std::string> Json::String(absl::string_view pointer) const {
  if (!ok()) return std::nullopt;
  std::string_view v;
  if (root_.at_pointer(Sv(pointer)).get_string().get(v) != simdjson::SUCCESS) return std::nullopt;
  return std::string(v);
}

std::optional<int64_t> Json::Int(absl::string_view pointer) const {
  if (!ok()) return std::nullopt;
  int64_t v;
  if (root_.at_pointer(Sv(pointer)).get_int64().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<double> Json::Number(absl::string_view pointer) const {
  if (!ok()) return std::nullopt;
  double v;
  if (root_.at_pointer(Sv(pointer)).get_double().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<bool> Json::Bool(absl::string_view pointer) const {
  if (!ok()) return std::nullopt;
  bool v;
  if (root_.at_pointer(Sv(pointer)).get_bool().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

bool Json::IsNull(absl::string_view pointer) const {
  if (!ok()) return false;
  simdjson::dom::element e;
  return root_.at_pointer(Sv(pointer)).get(e) == simdjson::SUCCESS && e.is_null();
}

bool Json::Has(absl::string_view pointer) const {
  if (!ok()) return false;
  simdjson::dom::element e;
  return root_.at_pointer(Sv(pointer)).get(e) == simdjson::SUCCESS;
}

int64_t Json::ArraySize(absl::string_view pointer) const {
  if (!ok()) return -1;
  simdjson::dom::array a;
  if (root_.at_pointer(Sv(pointer)).get_array().get(a) != simdjson::SUCCESS) return -1;
  return static_cast<int64_t>(a.size());
}

std::vector<std::string> Json::Keys(absl::string_view pointer) const {
  std::vector<std::string> keys;
  if (!ok()) return keys;
  simdjson::dom::object obj;
  if (root_.at_pointer(Sv(pointer)).get_object().get(obj) != simdjson::SUCCESS) return keys;
  for (auto field : obj) keys.emplace_back(field.key);
  return keys;
}

std::string ShapeDiff(absl::string_view want, absl::string_view got, const ShapeOptions& options) {
  Json want_json(want);
  if (!want_json.ok()) return absl::StrCat("fixture: ", want_json.error());
  Json got_json(got);
  if (!got_json.ok()) return absl::StrCat("response: ", got_json.error());
  std::vector<std::string> diffs;
  Compare(want_json.root(), got_json.root(), "", "", options, &diffs);
  if (diffs.empty()) return "";
  return absl::StrCat(absl::StrJoin(diffs, "\n"), "\n  response: ", got.substr(0, 600),
                      "\n  fixture:  ", want.substr(0, 600));
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace llmbench::testing
