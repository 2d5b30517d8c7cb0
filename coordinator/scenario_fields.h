// Field paths, enum spellings and value quoting shared by the scenario's YAML mapping
// (scenario_yaml.h), validation (scenario_validate.h) and YAML output (scenario_yaml_out.h), so
// that all three name a field and spell a value the same way.
//
// Thread-safety: free functions without shared state; safe to call from any thread.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_FIELDS_H_
#define LLMBENCH_COORDINATOR_SCENARIO_FIELDS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/absl_string_view.h"
#include "google/protobuf/descriptor.h"

namespace llmbench::coordinator {

// The YAML spelling of an enum value: lower case, without the enum's prefix
// (ENGINE_KIND_VLLM -> "vllm"). Exposed for messages and exporters.
std::string EnumYamlName(const google::protobuf::EnumValueDescriptor* value);

// For the scenario_*.cc files only.
namespace scenario_internal {

// How messages name the root path "".
inline constexpr char kRootName[] = "scenario";

// The first at most `max_bytes` bytes of `text`, cut on a UTF-8 character boundary.
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);
// `text` in double quotes, escaped, cut after 60 bytes.
std::string Quote(std::string_view text);

// A message with a single field may be written as that field's value:
// `concurrency: 32` for `concurrency: {concurrency: 32}`. Its path is the parent's.
bool IsShorthandMessage(const google::protobuf::Descriptor* descriptor);
// The path of `field` inside the message at `parent` (`load.rate.rps`).
std::string ChildPath(const std::string& parent,
                      const google::protobuf::Descriptor* parent_descriptor,
                      const google::protobuf::FieldDescriptor* field);
// `path`, with the root "" shown as "scenario".
std::string ShownPath(std::string_view path);

// The values of `type` a scenario may name (all but the 0 value).
std::vector<const google::protobuf::EnumValueDescriptor*> SelectableValues(
    const google::protobuf::EnumDescriptor* type);
// "a, b, c": the YAML names of SelectableValues(type) (plus the api aliases).
std::string EnumChoices(const google::protobuf::EnumDescriptor* type);

}  // namespace scenario_internal
}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_FIELDS_H_
