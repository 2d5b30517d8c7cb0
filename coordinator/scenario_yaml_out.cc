#include "coordinator/scenario_yaml_out.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "coordinator/scenario_fields.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "yaml-cpp/yaml.h"

namespace llmbench::coordinator {
namespace {

namespace pb = google::protobuf;
using llmbench::v1::Scenario;
using scenario_internal::IsShorthandMessage;

// Shortest decimal text that parses back to exactly `value`.
std::string RoundTripDouble(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  for (int precision = 15; precision <= 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    double back = 0;
    if (absl::SimpleAtod(text, &back) && back == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

// ---- proto -> YAML ------------------------------------------------------------------------------

void EmitScalar(YAML::Emitter& out, const pb::Message& message, const pb::FieldDescriptor* field,
                int index) {
  const pb::Reflection* reflection = message.GetReflection();
  const bool repeated = index >= 0;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      const std::string text = repeated ? reflection->GetRepeatedString(message, field, index)
                                        : reflection->GetString(message, field);
      out << YAML::DoubleQuoted << text;
      return;
    }
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      out << absl::StrCat(repeated ? reflection->GetRepeatedUInt32(message, field, index)
                                   : reflection->GetUInt32(message, field));
      return;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      out << absl::StrCat(repeated ? reflection->GetRepeatedUInt64(message, field, index)
                                   : reflection->GetUInt64(message, field));
      return;
    case pb::FieldDescriptor::CPPTYPE_INT32:
      out << absl::StrCat(repeated ? reflection->GetRepeatedInt32(message, field, index)
                                   : reflection->GetInt32(message, field));
      return;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      out << absl::StrCat(repeated ? reflection->GetRepeatedInt64(message, field, index)
                                   : reflection->GetInt64(message, field));
      return;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      out << RoundTripDouble(repeated ? reflection->GetRepeatedDouble(message, field, index)
                                      : reflection->GetDouble(message, field));
      return;
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      out << RoundTripDouble(repeated ? reflection->GetRepeatedFloat(message, field, index)
                                      : reflection->GetFloat(message, field));
      return;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      out << ((repeated ? reflection->GetRepeatedBool(message, field, index)
                        : reflection->GetBool(message, field))
                  ? "true"
                  : "false");
      return;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      out << EnumYamlName(repeated ? reflection->GetRepeatedEnum(message, field, index)
                                   : reflection->GetEnum(message, field));
      return;
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return;
  }
}

void EmitMessage(YAML::Emitter& out, const pb::Message& message) {
  const pb::Descriptor* descriptor = message.GetDescriptor();
  const pb::Reflection* reflection = message.GetReflection();
  if (IsShorthandMessage(descriptor)) {
    EmitScalar(out, message, descriptor->field(0), -1);
    return;
  }
  out << YAML::BeginMap;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) {
      if (reflection->FieldSize(message, field) == 0) continue;
    } else if (!reflection->HasField(message, field)) {
      continue;
    }
    out << YAML::Key << field->name() << YAML::Value;
    if (field->is_map()) {
      std::vector<std::pair<std::string, std::string>> entries;
      for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
        const pb::Message& entry = reflection->GetRepeatedMessage(message, field, k);
        const pb::Reflection* entry_reflection = entry.GetReflection();
        entries.emplace_back(
            entry_reflection->GetString(entry, entry.GetDescriptor()->map_key()),
            entry_reflection->GetString(entry, entry.GetDescriptor()->map_value()));
      }
      std::sort(entries.begin(), entries.end());
      out << YAML::BeginMap;
      for (const auto& [key, value] : entries) {
        out << YAML::Key << YAML::DoubleQuoted << key << YAML::Value << YAML::DoubleQuoted
            << value;
      }
      out << YAML::EndMap;
    } else if (field->is_repeated()) {
      out << YAML::BeginSeq;
      for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
        if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
          EmitMessage(out, reflection->GetRepeatedMessage(message, field, k));
        } else {
          EmitScalar(out, message, field, k);
        }
      }
      out << YAML::EndSeq;
    } else if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      EmitMessage(out, reflection->GetMessage(message, field));
    } else {
      EmitScalar(out, message, field, -1);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

std::string ScenarioToYaml(const Scenario& scenario) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitMessage(out, scenario);
  return absl::StrCat("# llmbench scenario, as run (defaults applied)\n", out.c_str(), "\n");
}

}  // namespace llmbench::coordinator
