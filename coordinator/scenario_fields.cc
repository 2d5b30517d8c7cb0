#include "coordinator/scenario_fields.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {
namespace {

namespace pb = google::protobuf;

// The common "ENGINE_KIND_" of ENGINE_KIND_OLLAMA, ENGINE_KIND_VLLM, ...
std::string EnumPrefix(const pb::EnumDescriptor* type) {
  std::string prefix = type->value(0)->name();
  for (int i = 1; i < type->value_count(); ++i) {
    const std::string& name = type->value(i)->name();
    size_t n = 0;
    while (n < prefix.size() && n < name.size() && prefix[n] == name[n]) ++n;
    prefix.resize(n);
  }
  size_t underscore = prefix.rfind('_');
  return underscore == std::string::npos ? "" : prefix.substr(0, underscore + 1);
}

}  // namespace

namespace scenario_internal {

// The first at most `max_bytes` bytes of `text`, cut on a UTF-8 character boundary (the file
// was checked to be valid UTF-8), so that messages stay valid UTF-8 (found by
// scenario_loader_fuzz).
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes) {
  size_t cut = std::min(max_bytes, text.size());
  while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return text.substr(0, cut);
}

std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string shown(Utf8Prefix(text, kMaxShown));
  if (text.size() > kMaxShown) shown += "...";
  std::string out = "\"";
  for (char c : shown) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A message with a single field may be written as that field's value:
// `concurrency: 32` for `concurrency: {concurrency: 32}`. Its path is the parent's.
bool IsShorthandMessage(const pb::Descriptor* descriptor) {
  return descriptor->field_count() == 1 && !descriptor->field(0)->is_repeated() &&
         descriptor->field(0)->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE;
}

std::string ChildPath(const std::string& parent, const pb::Descriptor* parent_descriptor,
                      const pb::FieldDescriptor* field) {
  if (IsShorthandMessage(parent_descriptor)) return parent;
  if (parent.empty()) return field->name();
  return absl::StrCat(parent, ".", field->name());
}

std::string ShownPath(std::string_view path) {
  return path.empty() ? std::string(kRootName) : std::string(path);
}

std::vector<const pb::EnumValueDescriptor*> SelectableValues(const pb::EnumDescriptor* type) {
  std::vector<const pb::EnumValueDescriptor*> values;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) values.push_back(type->value(i));
  }
  return values;
}

std::string EnumChoices(const pb::EnumDescriptor* type) {
  std::vector<std::string> names;
  for (const auto* value : SelectableValues(type)) names.push_back(EnumYamlName(value));
  std::string choices = absl::StrJoin(names, ", ");
  if (type == llmbench::v1::Api_descriptor()) choices += "; or generate, chat";
  return choices;
}

}  // namespace scenario_internal

std::string EnumYamlName(const pb::EnumValueDescriptor* value) {
  const std::string prefix = EnumPrefix(value->type());
  std::string name = value->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

}  // namespace llmbench::coordinator
