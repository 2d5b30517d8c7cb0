// Where each field of a scenario file was written (line and column), so that validation
// errors can name the line: the YAML mapping (scenario_yaml.h) records, validation
// (scenario_validate.h) looks up.
//
// Thread-safety: not synchronized; build it on one thread, then read it from any.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_SOURCE_MAP_H_
#define LLMBENCH_COORDINATOR_SCENARIO_SOURCE_MAP_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace llmbench::coordinator {

// A 1-based position in the scenario file.
struct SourcePosition {
  int line = 1;
  int column = 1;
};

// Where each field of a parsed scenario was written, so that validation errors can name the
// line. Paths look like `engines[0].timeouts.connect_ms` or `load.rate.rps`; the root is "".
class ScenarioSourceMap {
 public:
  explicit ScenarioSourceMap(std::string filename) : filename_(std::move(filename)) {}

  void Record(const std::string& path, SourcePosition position);
  // The position of `path`, else of its nearest recorded ancestor, else 1:1.
  SourcePosition Find(std::string_view path) const;
  // "FILE:LINE:COL: PATH: REASON"; the root path "" is shown as "scenario".
  std::string Format(std::string_view path, std::string_view reason) const;
  const std::string& filename() const { return filename_; }

 private:
  std::string filename_;
  std::map<std::string, SourcePosition, std::less<>> positions_;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_SOURCE_MAP_H_
