// Small helpers that append JSON text to a std::string: the simulator's engine responses (in the
// exact key order each engine writes), the worker's request bodies, the report's embedded data. Three string-escaping modes cover the engines:
//   kCompact: raw UTF-8, escapes only what JSON requires (pydantic, serde, nlohmann).
//   kGoHtml:  Go encoding/json: also escapes <, >, & as \u003c, \u003e, \u0026 and U+2028/9.
//   kAscii:   Python json.dumps(ensure_ascii=True): every non-ASCII code point as \uXXXX
//             (surrogate pairs above the BMP).
// Thread-safety: stateless free functions.
#ifndef LLMBENCH_COMMON_JSON_WRITER_H_
#define LLMBENCH_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace llmbench {

enum class JsonEscape { kCompact, kGoHtml, kAscii };

// Appends `s` as a quoted JSON string. Invalid UTF-8 bytes are written as U+FFFD.
void AppendJsonString(std::string& out, std::string_view s, JsonEscape mode = JsonEscape::kCompact);

// Appends a decimal integer.
void AppendInt(std::string& out, int64_t v);

// Appends a double in the shortest form that round-trips, with at least one digit after the
// point when integral ("3.0"), the way Python's repr writes floats.
void AppendPythonFloat(std::string& out, double v);

// Appends a double in the shortest round-trip form as Rust/serde writes it for f64 ("0.0",
// "0.351245019"), i.e. the same as AppendPythonFloat without exponent.
void AppendShortestDouble(std::string& out, double v);

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_JSON_WRITER_H_
