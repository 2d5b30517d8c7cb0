#include "coordinator/scenario_source_map.h"

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "coordinator/scenario_fields.h"

namespace llmbench::coordinator {

using scenario_internal::ShownPath;

void ScenarioSourceMap::Record(const std::string& path, SourcePosition position) {
  positions_.emplace(path, position);
}

SourcePosition ScenarioSourceMap::Find(std::string_view path) const {
  while (true) {
    if (auto it = positions_.find(path); it != positions_.end()) return it->second;
    if (path.empty()) return SourcePosition{};
    const size_t cut = path.find_last_of(".[");
    path = cut == std::string_view::npos ? std::string_view() : path.substr(0, cut);
  }
}

std::string ScenarioSourceMap::Format(std::string_view path, std::string_view reason) const {
  const SourcePosition position = Find(path);
  return absl::StrCat(filename_, ":", position.line, ":", position.column, ": ", ShownPath(path),
                      ": ", ToAbsl(reason));
}

}  // namespace llmbench::coordinator
