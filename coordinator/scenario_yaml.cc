#include "coordinator/scenario_yaml.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "coordinator/scenario_fields.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/parser.h"
#include "yaml-cpp/yaml.h"

namespace llmbench::coordinator {
namespace {

namespace pb = google::protobuf;
using llmbench::v1::Scenario;
using scenario_internal::ChildPath;
using scenario_internal::EnumChoices;
using scenario_internal::IsShorthandMessage;
using scenario_internal::kRootName;
using scenario_internal::Quote;
using scenario_internal::SelectableValues;
using scenario_internal::ShownPath;
using scenario_internal::Utf8Prefix;

SourcePosition PositionOf(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return SourcePosition{};
  return SourcePosition{mark.line + 1, mark.column + 1};
}

// yaml-cpp 0.7 loops forever in YAML::LoadAll, allocating a null document per turn, when a
// token that cannot start a node stands at document level (e.g. "," outside any flow
// collection: found by scenario_loader_fuzz): the parser never consumes it, so every new
// document starts at the same token. This event pass stops at the second document that starts
// where the previous one did; it runs before LoadAll.
class StuckDocumentGuard : public YAML::EventHandler {
 public:
  struct Stuck {
    YAML::Mark mark;
  };

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (started_ && mark.pos == last_start_.pos) throw Stuck{mark};
    started_ = true;
    last_start_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  bool started_ = false;
  YAML::Mark last_start_;
};

// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
// transpositions ("modle" -> "model" is 1).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    default:
      return "nothing";
  }
}

std::string ExpectedKind(const pb::FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return "an unsigned integer";
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return "an integer";
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return absl::StrCat("one of ", EnumChoices(field->enum_type()));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return "a mapping";
  }
  return "a value";
}

// ---- YAML -> proto -------------------------------------------------------------------------

class YamlMapper {
 public:
  explicit YamlMapper(ScenarioSourceMap* source) : source_(source) {}

  absl::Status MapMessage(const YAML::Node& node, const std::string& path, pb::Message* message) {
    const pb::Descriptor* descriptor = message->GetDescriptor();
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) {
      if (node.IsScalar() && IsShorthandMessage(descriptor)) {
        return SetField(node, node.Mark(), path, message, descriptor->field(0));
      }
      return Error(node.Mark(), path, absl::StrCat("expected a mapping, got ", DescribeNode(node)));
    }
    struct Entry {
      const pb::FieldDescriptor* field;
      YAML::Node value;
      YAML::Mark mark;
    };
    std::vector<Entry> entries;
    std::set<std::string> seen;
    absl::flat_hash_map<const pb::OneofDescriptor*, std::string> oneof_set;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        return Error(key.Mark(), path, "keys must be plain strings");
      }
      const std::string& name = key.Scalar();
      const std::string shown =
          name.size() > 80 ? absl::StrCat(ToAbsl(Utf8Prefix(name, 80)), "...") : name;
      const std::string key_path = path.empty() ? shown : absl::StrCat(path, ".", shown);
      const pb::FieldDescriptor* field = descriptor->FindFieldByName(name);
      if (field == nullptr) {
        return Error(key.Mark(), key_path, UnknownKeyReason(descriptor, name));
      }
      if (!seen.insert(name).second) {
        return Error(key.Mark(), key_path, "duplicate key");
      }
      if (const pb::OneofDescriptor* oneof = field->real_containing_oneof()) {
        if (oneof_set.contains(oneof)) {
          std::vector<std::string> members;
          for (int i = 0; i < oneof->field_count(); ++i) members.push_back(oneof->field(i)->name());
          return Error(key.Mark(), path,
                       absl::StrCat("give exactly one of ", absl::StrJoin(members, ", ")));
        }
        oneof_set[oneof] = name;
      }
      entries.push_back(Entry{field, it->second, key.Mark()});
    }
    // Assign in field-number order so that a field may depend on an earlier one (api on kind).
    // (Sort indices: assigning a YAML::Node overwrites the node it refers to.)
    std::vector<size_t> order(entries.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return entries[a].field->number() < entries[b].field->number();
    });
    for (size_t index : order) {
      const Entry& entry = entries[index];
      LLMBENCH_RETURN_IF_ERROR(SetField(entry.value, entry.mark,
                                        ChildPath(path, descriptor, entry.field), message,
                                        entry.field));
    }
    return absl::OkStatus();
  }

  absl::Status Error(const YAML::Mark& mark, std::string_view path, std::string_view reason) {
    SourcePosition position = PositionOf(mark);
    return absl::InvalidArgumentError(absl::StrCat(source_->filename(), ":", position.line, ":",
                                                   position.column, ": ", ShownPath(path), ": ",
                                                   ToAbsl(reason)));
  }

 private:
  static std::string UnknownKeyReason(const pb::Descriptor* descriptor, std::string_view name) {
    name = name.substr(0, 64);  // bounds the distance computation for hostile keys
    std::string best;
    size_t best_distance = std::numeric_limits<size_t>::max();
    std::vector<std::string> names;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const std::string& candidate = descriptor->field(i)->name();
      names.push_back(candidate);
      size_t distance = EditDistance(absl::AsciiStrToLower(ToAbsl(name)), candidate);
      if (distance < best_distance) {
        best_distance = distance;
        best = candidate;
      }
    }
    // Keys are short; a suggestion must be close enough to be the obvious intent.
    const size_t allowed = best.size() <= 3 ? 1 : best.size() <= 8 ? 2 : 3;
    if (best_distance <= allowed) return absl::StrCat("unknown key (did you mean \"", best, "\"?)");
    return absl::StrCat("unknown key (expected one of ", absl::StrJoin(names, ", "), ")");
  }

  absl::Status SetField(const YAML::Node& value, const YAML::Mark& mark, const std::string& path,
                        pb::Message* message, const pb::FieldDescriptor* field) {
    source_->Record(path, PositionOf(mark));
    const pb::Reflection* reflection = message->GetReflection();
    if (field->is_map()) {
      if (value.IsNull()) return absl::OkStatus();
      if (!value.IsMap()) {
        return Error(mark, path, absl::StrCat("expected a mapping, got ", DescribeNode(value)));
      }
      const pb::FieldDescriptor* key_field = field->message_type()->map_key();
      const pb::FieldDescriptor* value_field = field->message_type()->map_value();
      std::set<std::string> seen;
      for (auto it = value.begin(); it != value.end(); ++it) {
        const YAML::Node key = it->first;
        if (!key.IsScalar()) return Error(key.Mark(), path, "keys must be plain strings");
        const std::string entry_path = absl::StrCat(path, ".", key.Scalar());
        if (!seen.insert(key.Scalar()).second) {
          return Error(key.Mark(), entry_path, "duplicate key");
        }
        pb::Message* entry = reflection->AddMessage(message, field);
        LLMBENCH_RETURN_IF_ERROR(SetScalar(key, key.Mark(), entry_path, entry, key_field));
        if (it->second.IsNull()) {
          return Error(key.Mark(), entry_path, "expected a string, got nothing");
        }
        LLMBENCH_RETURN_IF_ERROR(SetScalar(it->second, key.Mark(), entry_path, entry, value_field));
      }
      return absl::OkStatus();
    }
    if (field->is_repeated()) {
      if (value.IsNull()) return absl::OkStatus();
      if (!value.IsSequence()) {
        return Error(mark, path, absl::StrCat("expected a list, got ", DescribeNode(value)));
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const YAML::Node element = value[i];
        const std::string element_path = absl::StrCat(path, "[", i, "]");
        source_->Record(element_path, PositionOf(element.Mark()));
        if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
          if (!element.IsMap()) {
            return Error(element.Mark(), element_path,
                         absl::StrCat("expected a mapping, got ", DescribeNode(element)));
          }
          LLMBENCH_RETURN_IF_ERROR(
              MapMessage(element, element_path, reflection->AddMessage(message, field)));
        } else {
          LLMBENCH_RETURN_IF_ERROR(
              SetScalar(element, element.Mark(), element_path, message, field));
        }
      }
      return absl::OkStatus();
    }
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      // A present but empty message (`rate:`) is created so that validation can name it.
      return MapMessage(value, path, reflection->MutableMessage(message, field));
    }
    if (value.IsNull()) return absl::OkStatus();  // `key:` with no value = not given
    return SetScalar(value, mark, path, message, field);
  }

  // Sets a singular field, or appends to a repeated one.
  absl::Status SetScalar(const YAML::Node& value, const YAML::Mark& mark, const std::string& path,
                         pb::Message* message, const pb::FieldDescriptor* field) {
    if (!value.IsScalar()) {
      return Error(mark, path,
                   absl::StrCat("expected ", ExpectedKind(field), ", got ", DescribeNode(value)));
    }
    const std::string& text = value.Scalar();
    const pb::Reflection* reflection = message->GetReflection();
    const bool repeated = field->is_repeated();
    auto bad = [&]() {
      return Error(mark, path,
                   absl::StrCat("expected ", ExpectedKind(field), ", got ", Quote(text)));
    };
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        repeated ? reflection->AddString(message, field, text)
                 : reflection->SetString(message, field, text);
        return absl::OkStatus();
      case pb::FieldDescriptor::CPPTYPE_UINT32:
      case pb::FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t number = 0;
        const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        });
        if (!digits) return bad();
        const uint64_t limit = field->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT32
                                   ? std::numeric_limits<uint32_t>::max()
                                   : std::numeric_limits<uint64_t>::max();
        if (!absl::SimpleAtoi(text, &number) || number > limit) {
          return Error(mark, path, absl::StrCat("out of range (at most ", limit, "), got ", text));
        }
        if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT32) {
          repeated ? reflection->AddUInt32(message, field, static_cast<uint32_t>(number))
                   : reflection->SetUInt32(message, field, static_cast<uint32_t>(number));
        } else {
          repeated ? reflection->AddUInt64(message, field, number)
                   : reflection->SetUInt64(message, field, number);
        }
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_INT32:
      case pb::FieldDescriptor::CPPTYPE_INT64: {
        int64_t number = 0;
        if (!absl::SimpleAtoi(text, &number)) return bad();
        if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT32) {
          if (number < std::numeric_limits<int32_t>::min() ||
              number > std::numeric_limits<int32_t>::max()) {
            return Error(mark, path, absl::StrCat("out of range for a 32-bit integer, got ", text));
          }
          repeated ? reflection->AddInt32(message, field, static_cast<int32_t>(number))
                   : reflection->SetInt32(message, field, static_cast<int32_t>(number));
        } else {
          repeated ? reflection->AddInt64(message, field, number)
                   : reflection->SetInt64(message, field, number);
        }
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT: {
        double number = 0;
        if (!absl::SimpleAtod(text, &number)) return bad();
        if (!std::isfinite(number)) {
          return Error(mark, path, absl::StrCat("must be a finite number, got ", Quote(text)));
        }
        if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE) {
          repeated ? reflection->AddDouble(message, field, number)
                   : reflection->SetDouble(message, field, number);
        } else {
          repeated ? reflection->AddFloat(message, field, static_cast<float>(number))
                   : reflection->SetFloat(message, field, static_cast<float>(number));
        }
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        const std::string lower = absl::AsciiStrToLower(text);
        bool flag = false;
        if (lower == "true" || lower == "yes" || lower == "on") {
          flag = true;
        } else if (lower == "false" || lower == "no" || lower == "off") {
          flag = false;
        } else {
          return bad();
        }
        repeated ? reflection->AddBool(message, field, flag)
                 : reflection->SetBool(message, field, flag);
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumValueDescriptor* found = FindEnumValue(field->enum_type(), text, *message);
        if (found == nullptr) {
          return Error(mark, path,
                       absl::StrCat("unknown value ", Quote(text), " (expected one of ",
                                    EnumChoices(field->enum_type()), ")"));
        }
        repeated ? reflection->AddEnumValue(message, field, found->number())
                 : reflection->SetEnumValue(message, field, found->number());
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
    return bad();
  }

  // Lower-case name without prefix, plus the api aliases `generate` and `chat`, which depend
  // on the engine's kind (set before api because fields are assigned in number order).
  static const pb::EnumValueDescriptor* FindEnumValue(const pb::EnumDescriptor* type,
                                                      std::string_view text,
                                                      const pb::Message& parent) {
    const std::string lower = absl::AsciiStrToLower(ToAbsl(text));
    for (const auto* value : SelectableValues(type)) {
      if (EnumYamlName(value) == lower) return value;
    }
    if (type == llmbench::v1::Api_descriptor() &&
        parent.GetDescriptor() == llmbench::v1::Engine::descriptor()) {
      const auto kind = static_cast<const llmbench::v1::Engine&>(parent).kind();
      if (lower == "generate") {
        return type->FindValueByNumber(kind == llmbench::v1::ENGINE_KIND_TGI
                                           ? llmbench::v1::API_TGI_GENERATE
                                           : llmbench::v1::API_OLLAMA_GENERATE);
      }
      if (lower == "chat") {
        return type->FindValueByNumber(kind == llmbench::v1::ENGINE_KIND_OLLAMA
                                           ? llmbench::v1::API_OLLAMA_CHAT
                                           : llmbench::v1::API_CHAT_COMPLETIONS);
      }
    }
    return nullptr;
  }

  ScenarioSourceMap* source_;
};

// ---- file-level checks -------------------------------------------------------------------------

// The first byte that is not valid UTF-8, or a control character YAML does not allow.
std::optional<std::pair<size_t, std::string>> CheckText(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      if (byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') {
        return std::make_pair(i, absl::StrFormat("control character 0x%02x is not allowed", byte));
      }
      if (byte == 0x7f) {
        return std::make_pair(i, std::string("control character 0x7f is not allowed"));
      }
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code_point = 0;
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code_point = byte & 0x07;
    }
    bool valid = length != 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      const auto continuation = static_cast<unsigned char>(text[i + k]);
      if ((continuation & 0xC0) != 0x80) valid = false;
      code_point = (code_point << 6) | (continuation & 0x3F);
    }
    if (valid) {
      const uint32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
      valid = code_point >= minimum && code_point <= 0x10FFFF &&
              !(code_point >= 0xD800 && code_point <= 0xDFFF);
    }
    if (!valid) return std::make_pair(i, absl::StrFormat("invalid UTF-8 (byte 0x%02x)", byte));
    i += length;
  }
  return std::nullopt;
}

SourcePosition PositionOfOffset(std::string_view text, size_t offset) {
  SourcePosition position;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++position.line;
      position.column = 1;
    } else {
      ++position.column;
    }
  }
  return position;
}

}  // namespace

std::string ScenarioFileError(std::string_view filename, SourcePosition position,
                              std::string_view reason) {
  return absl::StrCat(ToAbsl(filename), ":", position.line, ":", position.column, ": ", kRootName,
                      ": ", ToAbsl(reason));
}

absl::StatusOr<Scenario> MapScenarioYaml(std::string_view yaml, ScenarioSourceMap* source) {
  const std::string& filename = source->filename();
  if (yaml.size() > kMaxScenarioBytes) {
    return absl::InvalidArgumentError(ScenarioFileError(
        filename, SourcePosition{},
        absl::StrCat("file is too large (", yaml.size(), " bytes; the limit is ",
                     kMaxScenarioBytes, ")")));
  }
  if (auto bad = CheckText(yaml)) {
    return absl::InvalidArgumentError(
        ScenarioFileError(filename, PositionOfOffset(yaml, bad->first), bad->second));
  }
  std::vector<YAML::Node> documents;
  try {
    {
      std::istringstream stream{std::string(yaml)};
      YAML::Parser parser(stream);
      StuckDocumentGuard guard;
      while (parser.HandleNextDocument(guard)) {
      }
    }
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const StuckDocumentGuard::Stuck& stuck) {
    const size_t pos = stuck.mark.pos < 0 ? yaml.size() : static_cast<size_t>(stuck.mark.pos);
    const unsigned char c = pos < yaml.size() ? static_cast<unsigned char>(yaml[pos]) : 0;
    return absl::InvalidArgumentError(ScenarioFileError(
        filename, PositionOf(stuck.mark),
        c > 0x20 && c < 0x7f
            ? absl::StrCat("YAML syntax error: unexpected \"", std::string(1, static_cast<char>(c)),
                           "\" outside a flow collection")
            : std::string("YAML syntax error: unexpected token")));
  } catch (const YAML::DeepRecursion& e) {
    return absl::InvalidArgumentError(ScenarioFileError(
        filename, PositionOf(e.mark),
        absl::StrCat("YAML nesting is too deep (more than ", e.depth(), " levels)")));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(ScenarioFileError(
        filename, PositionOf(e.mark), absl::StrCat("YAML syntax error: ", e.msg)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(ScenarioFileError(
        filename, SourcePosition{}, absl::StrCat("cannot parse YAML: ", e.what())));
  }
  if (documents.empty() || documents[0].IsNull()) {
    if (documents.size() <= 1) {
      return absl::InvalidArgumentError(
          ScenarioFileError(filename, SourcePosition{},
                            "file is empty (a scenario needs at least engines)"));
    }
  }
  if (documents.size() > 1) {
    return absl::InvalidArgumentError(
        ScenarioFileError(filename, PositionOf(documents[1].Mark()),
                          absl::StrCat("expected one YAML document, found ", documents.size())));
  }
  const YAML::Node& root = documents[0];
  Scenario scenario;
  try {
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(ScenarioFileError(
          filename, PositionOf(root.Mark()),
          absl::StrCat("expected a mapping of scenario keys, got ", DescribeNode(root))));
    }
    source->Record("", PositionOf(root.Mark()));
    YamlMapper mapper(source);
    LLMBENCH_RETURN_IF_ERROR(mapper.MapMessage(root, "", &scenario));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        ScenarioFileError(filename, PositionOf(e.mark), absl::StrCat("YAML error: ", e.msg)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(ScenarioFileError(
        filename, SourcePosition{}, absl::StrCat("cannot read YAML: ", e.what())));
  }
  return scenario;
}

}  // namespace llmbench::coordinator
