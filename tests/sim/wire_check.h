// Helpers for checking engine wire formats in integration tests: strict SSE / NDJSON framing
// splitters that keep each event's arrival time, a JSON "shape" comparison against the engine
// fixtures (same keys in the same order and the same value types, recursively), and small
// JSON accessors.
//
// Thread-compatible; every function is pure except ReadFixture (reads a file).
#ifndef LLMBENCH_TESTS_SIM_WIRE_CHECK_H_
#define LLMBENCH_TESTS_SIM_WIRE_CHECK_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "simdjson.h"
#include "tests/harness/harness.h"

namespace llmbench::testing {

// One framed event: its payload (without prefix/terminator) and when its last byte arrived.
struct WireEvent {
  std::string payload;
  std::chrono::steady_clock::time_point at;
};

// Splits `body` into SSE events framed exactly as `prefix` + payload + "\n\n" (prefix is
// "data: " for OpenAI-style servers and "data:" for TGI). Anything else (a missing prefix, a
// lone "\n", trailing bytes) is reported in `*framing_error` with its byte offset and the
// events parsed so far are returned. `chunks` (may be empty) gives arrival times.
std::vector<WireEvent> SplitSse(absl::string_view body, const std::vector<HttpChunk>& chunks,
                                absl::string_view prefix, std::string* framing_error);

// Splits an NDJSON body into lines; every line must end with "\n" (the last one too) and be
// non-empty.
std::vector<WireEvent> SplitNdjson(absl::string_view body, const std::vector<HttpChunk>& chunks,
                                   std::string* framing_error);

// Reads tests/fixtures/engines/<relative> from the source tree. Empty string if missing.
std::string ReadFixture(absl::string_view relative);

// A parsed JSON document that owns its parser.
class Json {
 public:
  // Parses `text`; check ok() / error().
  explicit Json(absl::string_view text);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  simdjson::dom::element root() const { return root_; }

  // JSON-pointer accessors ("/choices/0/delta/content"); nullopt when absent or mistyped.
  std::optional<std::string> String(absl::string_view pointer) const;
  std::optional<int64_t> Int(absl::string_view pointer) const;
  std::optional<double> Number(absl::string_view pointer) const;
  std::optional<bool> Bool(absl::string_view pointer) const;
  bool IsNull(absl::string_view pointer) const;
  bool Has(absl::string_view pointer) const;
  // Number of elements of the array at `pointer`, -1 if not an array.
  int64_t ArraySize(absl::string_view pointer) const;
  // Keys of the object at `pointer`, in document order.
  std::vector<std::string> Keys(absl::string_view pointer) const;

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
  std::string error_;
};

struct ShapeOptions {
  std::set<std::string> ignore_keys;    // removed on both sides before comparing
  std::set<std::string> optional_keys;  // may be absent from the response (Go omitempty)
  // Null on either side matches any type: fields the engines declare nullable (Python
  // Optional / Rust Option) whose fixture value happens to be set, or unset.
  std::set<std::string> nullable_keys = {"finish_reason", "stop_reason", "seed", "logprob",
                                         "generated_text", "details", "model_sha", "sha",
                                         "docker_label", "usage"};

  static ShapeOptions Optional(std::set<std::string> keys) {
    ShapeOptions o;
    o.optional_keys = std::move(keys);
    return o;
  }
  static ShapeOptions Ignore(std::set<std::string> keys) {
    ShapeOptions o;
    o.ignore_keys = std::move(keys);
    return o;
  }
};

// Compares `got` to the fixture `want`: at every object the ordered key lists must match, and
// values must have the same JSON type (int and double are distinct; null only where allowed).
// Array element i is compared with fixture element min(i, n-1); a non-empty array where the
// fixture's is empty is a difference. Returns "" when equal, else one line per difference.
std::string ShapeDiff(absl::string_view want, absl::string_view got,
                      const ShapeOptions& options = {});

// True when `s` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view s);

}  // namespace llmbench::testing

#endif  // LLMBENCH_TESTS_SIM_WIRE_CHECK_H_
