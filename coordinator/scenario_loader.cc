#include "coordinator/scenario_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "coordinator/prompts.h"
#include "coordinator/multi_turn.h"
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

constexpr char kRootName[] = "scenario";

// Debian's Abseil keeps its own string_view type; this converts at the boundary.
absl::string_view Sv(std::string_view text) { return absl::string_view(text.data(), text.size()); }

// ---- small helpers -------------------------------------------------------------------------

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

std::string FormatNumber(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

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
          name.size() > 80 ? absl::StrCat(Sv(Utf8Prefix(name, 80)), "...") : name;
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
                                                   Sv(reason)));
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
      size_t distance = EditDistance(absl::AsciiStrToLower(Sv(name)), candidate);
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
    const std::string lower = absl::AsciiStrToLower(Sv(text));
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

std::string FileError(std::string_view filename, SourcePosition position, std::string_view reason) {
  return absl::StrCat(Sv(filename), ":", position.line, ":", position.column, ": ", kRootName,
                      ": ", Sv(reason));
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return absl::StrCat(base_dir, "/", path);
}

// ---- validation ---------------------------------------------------------------------------------

// A numeric range for one proto field, wherever the field appears.
struct RangeRule {
  const char* field;  // full name, e.g. "llmbench.v1.RateLoad.rps"
  double min;
  double max;
  bool min_exclusive;
};

constexpr double kMaxRps = 10'000'000;
constexpr double kMaxSeconds = 30.0 * 24 * 3600;

// The table of range checks. A field is checked when its message is present (fields without
// presence are checked even when zero; `optional` fields only when set).
constexpr RangeRule kRangeRules[] = {
    {"llmbench.v1.Timeouts.connect_ms", 1, 3'600'000, false},
    {"llmbench.v1.Timeouts.first_byte_ms", 1, 86'400'000, false},
    {"llmbench.v1.Timeouts.total_ms", 1, 86'400'000, false},
    {"llmbench.v1.Timeouts.idle_ms", 1, 86'400'000, false},
    {"llmbench.v1.Engine.price_per_hour", 0, 1e9, false},
    {"llmbench.v1.Engine.gpu_count", 1, 1'000'000, false},
    {"llmbench.v1.SyntheticPrompts.count", 1, 1'000'000, false},
    {"llmbench.v1.DatasetPrompts.max_prompts", 0, 100'000'000, false},
    {"llmbench.v1.SharedPrefix.prefix_tokens", 0, 1'000'000, false},
    {"llmbench.v1.SharedPrefix.groups", 1, 1'000'000, false},
    {"llmbench.v1.Generation.max_tokens", 1, 1'000'000, false},
    {"llmbench.v1.Generation.temperature", 0, 100, false},
    {"llmbench.v1.ConcurrencyLoad.concurrency", 1, 1'000'000, false},
    {"llmbench.v1.RateLoad.rps", 0, kMaxRps, true},
    {"llmbench.v1.Ramp.from_rps", 0, kMaxRps, false},
    {"llmbench.v1.Ramp.to_rps", 0, kMaxRps, true},
    {"llmbench.v1.Ramp.seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.Burst.size", 1, 1'000'000, false},
    {"llmbench.v1.Burst.every_seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.SweepLoad.start_rps", 0, kMaxRps, true},
    {"llmbench.v1.SweepLoad.max_rps", 0, kMaxRps, true},
    {"llmbench.v1.SweepLoad.step_factor", 1, 100, true},
    {"llmbench.v1.SweepLoad.step_seconds", 0, 86'400, true},
    {"llmbench.v1.SweepLoad.bisect_iterations", 0, 30, false},
    {"llmbench.v1.TraceLoad.speedup", 0, 1e6, true},
    {"llmbench.v1.TraceLoad.start_seconds", 0, kMaxSeconds, false},
    {"llmbench.v1.TraceLoad.end_seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.Load.requests", 1, kMaxRequests, false},
    {"llmbench.v1.Load.sessions", 1, kMaxRequests, false},
    {"llmbench.v1.MultiTurn.turns", 0, 1024, false},
    {"llmbench.v1.Load.duration_seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.Load.warmup_requests", 0, 1e9, false},
    {"llmbench.v1.Load.warmup_seconds", 0, 86'400, false},
    {"llmbench.v1.Load.cooldown_seconds", 0, 86'400, false},
    {"llmbench.v1.Slo.ttft_ms", 0, 1e9, true},
    {"llmbench.v1.Slo.itl_ms", 0, 1e9, true},
    {"llmbench.v1.Slo.tpot_ms", 0, 1e9, true},
    {"llmbench.v1.Slo.e2e_ms", 0, 1e9, true},
    {"llmbench.v1.Thresholds.max_error_rate", 0, 1, false},
    {"llmbench.v1.Thresholds.max_lateness_p99_ms", 0, 1e9, true},
    {"llmbench.v1.Thresholds.min_slo_attainment", 0, 1, false},
    {"llmbench.v1.Thresholds.engine_down_seconds", 0, 86'400, false},
    {"llmbench.v1.Thresholds.max_dispatch_delay_p99_ms", 0, 1e9, true},
    {"llmbench.v1.Outputs.text_max_bytes", 1, 1 << 20, false},
};

const RangeRule* FindRule(const std::string& full_name) {
  for (const RangeRule& rule : kRangeRules) {
    if (full_name == rule.field) return &rule;
  }
  return nullptr;
}

// `got` is the value as text: integers exactly (a uint64 beyond 2^53 must not print as
// 1.84467e+19).
std::string RangeReason(const RangeRule& rule, double value, const std::string& got_text) {
  const std::string got = absl::StrCat(", got ", got_text);
  if (rule.min_exclusive) {
    if (!(value > rule.min)) return absl::StrCat("must be > ", FormatNumber(rule.min), got);
    return absl::StrCat("must be <= ", FormatNumber(rule.max), got);
  }
  return absl::StrCat("must be between ", FormatNumber(rule.min), " and ",
                      FormatNumber(rule.max), got);
}

std::string NumericText(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection* reflection = message.GetReflection();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(reflection->GetUInt32(message, field));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(reflection->GetUInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(reflection->GetInt32(message, field));
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(reflection->GetInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return FormatNumber(reflection->GetDouble(message, field));
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return FormatNumber(reflection->GetFloat(message, field));
    default:
      return "?";
  }
}

double NumericValue(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection* reflection = message.GetReflection();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return reflection->GetUInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return static_cast<double>(reflection->GetUInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return reflection->GetInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return static_cast<double>(reflection->GetInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return reflection->GetDouble(message, field);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return reflection->GetFloat(message, field);
    default:
      return 0;
  }
}

class Validator {
 public:
  explicit Validator(const ValidateOptions& options) : options_(options) {}

  absl::Status Fail(std::string_view path, std::string_view reason) const {
    if (options_.source != nullptr) {
      return absl::InvalidArgumentError(options_.source->Format(path, reason));
    }
    return absl::InvalidArgumentError(absl::StrCat(ShownPath(path), ": ", Sv(reason)));
  }

  absl::Status Run(const Scenario& scenario) {
    LLMBENCH_RETURN_IF_ERROR(CheckEngines(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckRanges(scenario, ""));
    LLMBENCH_RETURN_IF_ERROR(CheckPrompts(scenario.prompts()));
    LLMBENCH_RETURN_IF_ERROR(CheckGeneration(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckLoad(scenario.load()));
    if (scenario.load().has_trace()) LLMBENCH_RETURN_IF_ERROR(CheckTrace(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckMultiTurn(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckRunLabels(scenario));
    return absl::OkStatus();
  }

  absl::Status CheckGeneration(const Scenario& scenario) {
    const llmbench::v1::Generation& generation = scenario.generation();
    if (generation.has_output_tokens()) {
      LLMBENCH_RETURN_IF_ERROR(CheckLengths(generation.output_tokens(), "generation.output_tokens"));
    }
    if (generation.output_tokens_from_dataset() && !scenario.prompts().has_dataset()) {
      return Fail("generation.output_tokens_from_dataset", "needs prompts.dataset");
    }
    if (generation.reply_text_bytes() != 0) {
      return Fail("generation.reply_text_bytes",
                  "set by the coordinator from outputs.text, not in a scenario");
    }
    for (int i = 0; i < scenario.telemetry().gpu_metrics_size(); ++i) {
      const std::string& url = scenario.telemetry().gpu_metrics(i);
      const bool http = absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
      const bool clean = std::none_of(url.begin(), url.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      });
      if (!http || !clean || url.size() <= 8) {
        return Fail(absl::StrCat("telemetry.gpu_metrics[", i, "]"),
                    absl::StrCat("must be an http:// or https:// URL without spaces, got ",
                                 Quote(url)));
      }
    }
    return absl::OkStatus();
  }

  // prompts.multi_turn and the load fields that only it uses (docs/scenario.md "Multi-turn
  // conversations").
  absl::Status CheckMultiTurn(const Scenario& scenario) {
    const llmbench::v1::Load& load = scenario.load();
    if (!scenario.prompts().has_multi_turn()) {
      if (load.has_sessions()) return Fail("load.sessions", "needs prompts.multi_turn");
      if (load.load_unit() != llmbench::v1::LOAD_UNIT_UNSPECIFIED) {
        return Fail("load.load_unit", "needs prompts.multi_turn");
      }
      return absl::OkStatus();
    }
    const llmbench::v1::MultiTurn& multi_turn = scenario.prompts().multi_turn();
    for (int i = 0; i < scenario.engines_size(); ++i) {
      const llmbench::v1::Engine& engine = scenario.engines(i);
      const bool chat = engine.api() == llmbench::v1::API_CHAT_COMPLETIONS ||
                        engine.api() == llmbench::v1::API_OLLAMA_CHAT ||
                        (engine.api() == llmbench::v1::API_UNSPECIFIED &&
                         (engine.kind() == llmbench::v1::ENGINE_KIND_VLLM ||
                          engine.kind() == llmbench::v1::ENGINE_KIND_OPENAI));
      if (!chat) {
        const llmbench::v1::Api api =
            engine.api() != llmbench::v1::API_UNSPECIFIED ? engine.api()
            : engine.kind() == llmbench::v1::ENGINE_KIND_OLLAMA ? llmbench::v1::API_OLLAMA_GENERATE
                                                                : llmbench::v1::API_TGI_GENERATE;
        return Fail(absl::StrCat("engines[", i, "].api"),
                    absl::StrCat("prompts.multi_turn needs the chat route (chat_completions",
                                 engine.kind() == llmbench::v1::ENGINE_KIND_OLLAMA
                                     ? " or ollama_chat"
                                     : "",
                                 "), got ",
                                 EnumYamlName(llmbench::v1::Api_descriptor()->FindValueByNumber(api))));
      }
    }
    if (multi_turn.has_user_tokens()) {
      if (!scenario.prompts().has_synthetic()) {
        return Fail("prompts.multi_turn.user_tokens", "synthetic prompts only");
      }
      LLMBENCH_RETURN_IF_ERROR(
          CheckLengths(multi_turn.user_tokens(), "prompts.multi_turn.user_tokens"));
    }
    if (multi_turn.has_think_time_ms()) {
      LLMBENCH_RETURN_IF_ERROR(CheckThinkTime(multi_turn.think_time_ms()));
    }
    if (load.has_requests()) {
      return Fail("load.requests",
                  "with prompts.multi_turn the run is bounded by load.sessions (whole "
                  "conversations) or duration_seconds");
    }
    if (load.has_sweep()) return Fail("load.sweep", "not with prompts.multi_turn");
    if (scenario.generation().output_tokens_from_dataset()) {
      return Fail("generation.output_tokens_from_dataset",
                  "not with prompts.multi_turn (a conversation has several replies)");
    }
    if (load.warmup_requests() >= (uint64_t{1} << 22)) {
      return Fail("load.warmup_requests",
                  absl::StrCat("with prompts.multi_turn these are warm-up sessions, at most ",
                               (uint64_t{1} << 22) - 1, ", got ", load.warmup_requests()));
    }
    return absl::OkStatus();
  }

  absl::Status CheckThinkTime(const llmbench::v1::TokenLengthDistribution& d) {
    constexpr uint32_t kMaxMs = 3'600'000;
    const std::string path = "prompts.multi_turn.think_time_ms";
    auto range = [&](const char* name, uint32_t value, uint32_t low) -> absl::Status {
      if (value < low || value > kMaxMs) {
        return Fail(absl::StrCat(path, ".", name),
                    absl::StrCat("must be between ", low, " and ", kMaxMs, " ms, got ", value));
      }
      return absl::OkStatus();
    };
    switch (d.kind()) {
      case llmbench::v1::TokenLengthDistribution::KIND_UNIFORM:
        LLMBENCH_RETURN_IF_ERROR(range("min", d.min(), 0));
        LLMBENCH_RETURN_IF_ERROR(range("max", d.max(), 0));
        if (d.max() < d.min()) {
          return Fail(path + ".max",
                      absl::StrCat("must be >= min (", d.min(), "), got ", d.max()));
        }
        break;
      case llmbench::v1::TokenLengthDistribution::KIND_NORMAL:
      case llmbench::v1::TokenLengthDistribution::KIND_LOGNORMAL:
        LLMBENCH_RETURN_IF_ERROR(range("mean", d.mean(), 1));
        if (!(d.stddev() >= 0) || d.stddev() > kMaxMs) {
          return Fail(path + ".stddev", absl::StrCat("must be between 0 and ", kMaxMs, ", got ",
                                                     FormatNumber(d.stddev())));
        }
        if (!(d.sigma() >= 0) || d.sigma() > 10) {
          return Fail(path + ".sigma",
                      absl::StrCat("must be between 0 and 10, got ", FormatNumber(d.sigma())));
        }
        LLMBENCH_RETURN_IF_ERROR(range("min", d.min(), 0));
        LLMBENCH_RETURN_IF_ERROR(range("max", d.max(), 0));
        if (d.max() != 0 && d.max() < d.min()) {
          return Fail(path + ".max",
                      absl::StrCat("must be >= min (", d.min(), "), got ", d.max()));
        }
        break;
      default:
        LLMBENCH_RETURN_IF_ERROR(range("mean", d.mean(), 0));
        break;
    }
    return absl::OkStatus();
  }

  // tags: keys are [A-Za-z0-9_.-]{1,64}, values at most 256 bytes without control characters;
  // label at most 256 bytes without control characters.
  absl::Status CheckRunLabels(const Scenario& scenario) {
    auto clean = [](const std::string& text) {
      return std::none_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
    };
    for (const auto& [key, value] : scenario.tags()) {
      const bool key_ok = !key.empty() && key.size() <= 64 &&
                          std::all_of(key.begin(), key.end(), [](char c) {
                            return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                                   c == '_' || c == '.' || c == '-';
                          });
      if (!key_ok) {
        return Fail(absl::StrCat("tags.", key),
                    absl::StrCat("a tag name is 1 to 64 of A-Z a-z 0-9 _ . -, got ", Quote(key)));
      }
      if (value.size() > 256 || !clean(value)) {
        return Fail(absl::StrCat("tags.", key),
                    "a tag value is at most 256 bytes without control characters");
      }
    }
    if (scenario.label().size() > 256 || !clean(scenario.label())) {
      return Fail("label", "at most 256 bytes without control characters");
    }
    return absl::OkStatus();
  }

 private:
  absl::Status CheckEngines(const Scenario& scenario) {
    if (scenario.engines().empty()) return Fail("engines", "required: at least one engine");
    absl::flat_hash_map<std::string, int> names;
    for (int i = 0; i < scenario.engines_size(); ++i) {
      const llmbench::v1::Engine& engine = scenario.engines(i);
      const std::string path = absl::StrCat("engines[", i, "]");
      if (engine.kind() == llmbench::v1::ENGINE_KIND_UNSPECIFIED) {
        return Fail(path + ".kind", absl::StrCat("required (one of ",
                                                 EnumChoices(llmbench::v1::EngineKind_descriptor()),
                                                 ")"));
      }
      if (engine.name().empty()) return Fail(path + ".name", "required");
      if (auto [it, inserted] = names.emplace(engine.name(), i); !inserted) {
        return Fail(path + ".name", absl::StrCat("duplicate engine name ", Quote(engine.name()),
                                                 " (also engines[", it->second,
                                                 "]); give each engine a unique name"));
      }
      if (engine.base_url().empty()) return Fail(path + ".base_url", "required");
      std::string_view url = engine.base_url();
      std::string_view rest;
      if (absl::StartsWith(Sv(url), "http://")) {
        rest = url.substr(7);
      } else if (absl::StartsWith(Sv(url), "https://")) {
        rest = url.substr(8);
      } else {
        return Fail(path + ".base_url",
                    absl::StrCat("must start with http:// or https://, got ", Quote(url)));
      }
      if (rest.empty() || rest[0] == '/') {
        return Fail(path + ".base_url", absl::StrCat("has no host: ", Quote(url)));
      }
      for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
          return Fail(path + ".base_url",
                      absl::StrCat("must not contain spaces or control characters: ", Quote(url)));
        }
      }
      if (engine.model().empty() && engine.kind() != llmbench::v1::ENGINE_KIND_TGI) {
        return Fail(path + ".model", "required");
      }
      LLMBENCH_RETURN_IF_ERROR(CheckApi(engine, path));
      if (!engine.api_key_env().empty()) {
        const std::string& env = engine.api_key_env();
        bool valid = !absl::ascii_isdigit(static_cast<unsigned char>(env[0]));
        for (char c : env) {
          if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') valid = false;
        }
        if (!valid) {
          return Fail(path + ".api_key_env",
                      absl::StrCat("must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), "
                                   "got ",
                                   Quote(env)));
        }
      }
      for (const auto& [header, value] : engine.headers()) {
        const std::string header_path = absl::StrCat(path, ".headers.", header);
        const bool token = !header.empty() && std::all_of(header.begin(), header.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
        });
        if (!token) {
          return Fail(header_path, absl::StrCat("not a valid HTTP header name: ", Quote(header)));
        }
        if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
          return Fail(header_path, "header values must not contain line breaks");
        }
      }
      const llmbench::v1::Timeouts& timeouts = engine.timeouts();
      if (timeouts.has_first_byte_ms() && timeouts.has_total_ms() &&
          timeouts.first_byte_ms() > timeouts.total_ms()) {
        return Fail(path + ".timeouts.first_byte_ms",
                    absl::StrCat("must be <= total_ms (", timeouts.total_ms(), "), got ",
                                 timeouts.first_byte_ms()));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckApi(const llmbench::v1::Engine& engine, const std::string& path) {
    using llmbench::v1::Api;
    std::vector<Api> allowed;
    switch (engine.kind()) {
      case llmbench::v1::ENGINE_KIND_OLLAMA:
        allowed = {llmbench::v1::API_OLLAMA_GENERATE, llmbench::v1::API_OLLAMA_CHAT,
                   llmbench::v1::API_COMPLETIONS, llmbench::v1::API_CHAT_COMPLETIONS};
        break;
      case llmbench::v1::ENGINE_KIND_TGI:
        allowed = {llmbench::v1::API_TGI_GENERATE, llmbench::v1::API_COMPLETIONS,
                   llmbench::v1::API_CHAT_COMPLETIONS};
        break;
      default:
        allowed = {llmbench::v1::API_COMPLETIONS, llmbench::v1::API_CHAT_COMPLETIONS};
        break;
    }
    if (engine.api() == llmbench::v1::API_UNSPECIFIED ||
        std::find(allowed.begin(), allowed.end(), engine.api()) != allowed.end()) {
      return absl::OkStatus();
    }
    std::vector<std::string> names;
    for (Api api : allowed) {
      names.push_back(EnumYamlName(llmbench::v1::Api_descriptor()->FindValueByNumber(api)));
    }
    return Fail(path + ".api",
                absl::StrCat(
                    EnumYamlName(llmbench::v1::Api_descriptor()->FindValueByNumber(engine.api())),
                    " is not served by a ",
                    EnumYamlName(llmbench::v1::EngineKind_descriptor()->FindValueByNumber(
                        engine.kind())),
                    " engine (expected one of ", absl::StrJoin(names, ", "), ")"));
  }

  // Applies kRangeRules to every present field, recursively.
  absl::Status CheckRanges(const pb::Message& message, const std::string& path) {
    const pb::Descriptor* descriptor = message.GetDescriptor();
    const pb::Reflection* reflection = message.GetReflection();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const pb::FieldDescriptor* field = descriptor->field(i);
      const std::string child = ChildPath(path, descriptor, field);
      if (field->is_map()) continue;
      if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (field->is_repeated()) {
          for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
            LLMBENCH_RETURN_IF_ERROR(CheckRanges(reflection->GetRepeatedMessage(message, field, k),
                                                 absl::StrCat(child, "[", k, "]")));
          }
        } else if (reflection->HasField(message, field)) {
          LLMBENCH_RETURN_IF_ERROR(CheckRanges(reflection->GetMessage(message, field), child));
        }
        continue;
      }
      if (field->is_repeated()) continue;
      if (field->has_presence() && !reflection->HasField(message, field)) continue;
      const RangeRule* rule = FindRule(field->full_name());
      if (rule == nullptr) continue;
      const double value = NumericValue(message, field);
      const bool low_ok = rule->min_exclusive ? value > rule->min : value >= rule->min;
      if (!low_ok || !(value <= rule->max)) {
        return Fail(child, RangeReason(*rule, value, NumericText(message, field)));
      }
    }
    return absl::OkStatus();
  }

  // A token-length distribution at `path` (prompts.synthetic.input_tokens,
  // generation.output_tokens).
  absl::Status CheckLengths(const llmbench::v1::TokenLengthDistribution& lengths,
                            const std::string& path) {
      constexpr uint32_t kMaxTokens = 1'000'000;
      auto range = [&](const char* name, uint32_t value, uint32_t low) -> absl::Status {
        if (value < low || value > kMaxTokens) {
          return Fail(absl::StrCat(path, ".", name),
                      absl::StrCat("must be between ", low, " and ", kMaxTokens, ", got ", value));
        }
        return absl::OkStatus();
      };
      switch (lengths.kind()) {
        case llmbench::v1::TokenLengthDistribution::KIND_UNIFORM:
          LLMBENCH_RETURN_IF_ERROR(range("min", lengths.min(), 1));
          LLMBENCH_RETURN_IF_ERROR(range("max", lengths.max(), 1));
          if (lengths.max() < lengths.min()) {
            return Fail(path + ".max", absl::StrCat("must be >= min (", lengths.min(), "), got ",
                                                    lengths.max()));
          }
          break;
        case llmbench::v1::TokenLengthDistribution::KIND_NORMAL:
        case llmbench::v1::TokenLengthDistribution::KIND_LOGNORMAL:
          LLMBENCH_RETURN_IF_ERROR(range("mean", lengths.mean(), 1));
          if (lengths.kind() == llmbench::v1::TokenLengthDistribution::KIND_NORMAL &&
              (!(lengths.stddev() >= 0) || lengths.stddev() > kMaxTokens)) {
            return Fail(path + ".stddev", absl::StrCat("must be between 0 and ", kMaxTokens,
                                                       ", got ", FormatNumber(lengths.stddev())));
          }
          if (lengths.kind() == llmbench::v1::TokenLengthDistribution::KIND_LOGNORMAL &&
              (!(lengths.sigma() >= 0) || lengths.sigma() > 10)) {
            return Fail(path + ".sigma", absl::StrCat("must be between 0 and 10, got ",
                                                      FormatNumber(lengths.sigma())));
          }
          LLMBENCH_RETURN_IF_ERROR(range("min", lengths.min(), 0));
          LLMBENCH_RETURN_IF_ERROR(range("max", lengths.max(), 0));
          if (lengths.max() != 0 && lengths.max() < lengths.min()) {
            return Fail(path + ".max", absl::StrCat("must be >= min (", lengths.min(), "), got ",
                                                    lengths.max()));
          }
          break;
        default:
          LLMBENCH_RETURN_IF_ERROR(range("mean", lengths.mean(), 1));
          break;
      }
      return absl::OkStatus();
  }

  absl::Status CheckPrompts(const llmbench::v1::Prompts& prompts) {
    if (prompts.has_synthetic()) {
      LLMBENCH_RETURN_IF_ERROR(
          CheckLengths(prompts.synthetic().input_tokens(), "prompts.synthetic.input_tokens"));
    }
    if (!prompts.tokenizer().empty() && options_.check_files) {
      const std::string resolved = ResolvePath(options_.base_dir, prompts.tokenizer());
      absl::StatusOr<int> fd = OpenDatasetFile(resolved);
      if (!fd.ok()) {
        return Fail("prompts.tokenizer", absl::StrCat("cannot read ", Quote(prompts.tokenizer()),
                                                      ": ", fd.status().message()));
      }
      ::close(*fd);
    }
    if (prompts.length_method() == llmbench::v1::PROMPT_LENGTH_METHOD_TOKENIZER &&
        prompts.tokenizer().empty()) {
      return Fail("prompts.length_method", "tokenizer needs prompts.tokenizer (a tokenizer.json)");
    }
    if (prompts.has_dataset()) {
      const std::string& file = prompts.dataset().path();
      if (file.empty()) return Fail("prompts.dataset.path", "required");
      if (options_.check_files) {
        const std::string resolved = ResolvePath(options_.base_dir, file);
        // Regular files only, size-capped, opened without blocking on a FIFO.
        absl::StatusOr<int> fd = OpenDatasetFile(resolved);
        if (!fd.ok()) {
          return Fail("prompts.dataset.path",
                      absl::StrCat("cannot read ", Quote(file), ": ", fd.status().message()));
        }
        ::close(*fd);
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckLoad(const llmbench::v1::Load& load) {
    if (load.has_sweep() && load.sweep().max_rps() < load.sweep().start_rps()) {
      return Fail("load.sweep.max_rps",
                  absl::StrCat("must be >= start_rps (", FormatNumber(load.sweep().start_rps()),
                               "), got ", FormatNumber(load.sweep().max_rps())));
    }
    if (!load.has_sweep() && !load.has_trace() && !load.has_requests() && !load.has_sessions() &&
        !load.has_duration_seconds()) {
      return Fail("load", "give requests, duration_seconds or both");
    }
    return absl::OkStatus();
  }

  // Trace replay (coordinator/trace_plan.h reads the file itself).
  absl::Status CheckTrace(const Scenario& scenario) {
    const llmbench::v1::Load& load = scenario.load();
    const llmbench::v1::TraceLoad& trace = load.trace();
    if (trace.file().empty()) return Fail("load.trace.file", "required");
    if (options_.check_files) {
      absl::StatusOr<int> fd = OpenDatasetFile(ResolvePath(options_.base_dir, trace.file()));
      if (!fd.ok()) {
        return Fail("load.trace.file",
                    absl::StrCat("cannot read ", Quote(trace.file()), ": ", fd.status().message()));
      }
      ::close(*fd);
    }
    if (trace.has_end_seconds() && trace.end_seconds() <= trace.start_seconds()) {
      return Fail("load.trace.end_seconds",
                  absl::StrCat("must be > start_seconds (", FormatNumber(trace.start_seconds()),
                               "), got ", FormatNumber(trace.end_seconds())));
    }
    if (trace.loop() && !load.has_requests() && !load.has_duration_seconds()) {
      return Fail("load.trace.loop", "needs load.duration_seconds or load.requests to end it");
    }
    if (load.warmup_requests() > 0) {
      return Fail("load.warmup_requests", "a trace replays as recorded: no warm-up");
    }
    if (load.warmup_seconds() > 0) {
      return Fail("load.warmup_seconds", "a trace replays as recorded: no warm-up");
    }
    if (scenario.prompts().has_dataset()) {
      return Fail("prompts.dataset", "load.trace gives the prompts");
    }
    if (scenario.prompts().has_multi_turn()) {
      return Fail("prompts.multi_turn", "load.trace replays single requests, not conversations");
    }
    if (scenario.generation().has_output_tokens()) {
      return Fail("generation.output_tokens", "load.trace gives each request's max_tokens");
    }
    return absl::OkStatus();
  }

  const ValidateOptions& options_;
};

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

// ---- public API ---------------------------------------------------------------------------------

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
                      ": ", Sv(reason));
}

std::string EnumYamlName(const pb::EnumValueDescriptor* value) {
  const std::string prefix = EnumPrefix(value->type());
  std::string name = value->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

void ApplyPromptsDefaults(llmbench::v1::Prompts* prompts) {
  if (prompts->source_case() == llmbench::v1::Prompts::SOURCE_NOT_SET) {
    prompts->mutable_synthetic();
  }
  if (prompts->has_synthetic()) {
    auto* synthetic = prompts->mutable_synthetic();
    auto* lengths = synthetic->mutable_input_tokens();
    if (lengths->kind() == llmbench::v1::TokenLengthDistribution::KIND_UNSPECIFIED) {
      lengths->set_kind(llmbench::v1::TokenLengthDistribution::KIND_FIXED);
    }
    if (lengths->kind() == llmbench::v1::TokenLengthDistribution::KIND_FIXED &&
        lengths->mean() == 0) {
      lengths->set_mean(128);
    }
    if (synthetic->count() == 0) synthetic->set_count(1000);
  }
  if (prompts->has_multi_turn() && prompts->has_synthetic() &&
      prompts->multi_turn().turns() == 0) {
    prompts->mutable_multi_turn()->set_turns(kDefaultTurns);
  }
  if (prompts->has_shared_prefix() && prompts->shared_prefix().groups() == 0) {
    prompts->mutable_shared_prefix()->set_groups(1);
  }
}

void ApplyScenarioDefaults(Scenario* scenario) {
  for (llmbench::v1::Engine& engine : *scenario->mutable_engines()) {
    if (engine.name().empty() && engine.kind() != llmbench::v1::ENGINE_KIND_UNSPECIFIED) {
      engine.set_name(
          EnumYamlName(llmbench::v1::EngineKind_descriptor()->FindValueByNumber(engine.kind())));
    }
    if (engine.api() == llmbench::v1::API_UNSPECIFIED) {
      switch (engine.kind()) {
        case llmbench::v1::ENGINE_KIND_OLLAMA:
          engine.set_api(llmbench::v1::API_OLLAMA_GENERATE);
          break;
        case llmbench::v1::ENGINE_KIND_TGI:
          engine.set_api(llmbench::v1::API_TGI_GENERATE);
          break;
        case llmbench::v1::ENGINE_KIND_VLLM:
        case llmbench::v1::ENGINE_KIND_OPENAI:
          engine.set_api(llmbench::v1::API_CHAT_COMPLETIONS);
          break;
        default:
          break;
      }
    }
    auto* timeouts = engine.mutable_timeouts();
    if (!timeouts->has_connect_ms()) timeouts->set_connect_ms(5000);
    if (!timeouts->has_first_byte_ms()) timeouts->set_first_byte_ms(60000);
    if (!timeouts->has_total_ms()) timeouts->set_total_ms(600000);
    if (!timeouts->has_idle_ms()) timeouts->set_idle_ms(60000);
  }
  ApplyPromptsDefaults(scenario->mutable_prompts());
  auto* generation = scenario->mutable_generation();
  if (!generation->has_max_tokens()) generation->set_max_tokens(128);
  if (!generation->has_temperature()) generation->set_temperature(0);
  if (!generation->has_stream()) generation->set_stream(true);
  auto* load = scenario->mutable_load();
  if (load->profile_case() == llmbench::v1::Load::PROFILE_NOT_SET) {
    load->mutable_concurrency()->set_concurrency(1);
  }
  if (load->has_rate() && load->rate().arrival() == llmbench::v1::ARRIVAL_UNSPECIFIED) {
    load->mutable_rate()->set_arrival(llmbench::v1::ARRIVAL_CONSTANT);
  }
  if (load->has_sweep()) {
    auto* sweep = load->mutable_sweep();
    if (sweep->step_factor() == 0) sweep->set_step_factor(2);
    if (sweep->step_seconds() == 0) sweep->set_step_seconds(30);
    if (sweep->bisect_iterations() == 0) sweep->set_bisect_iterations(4);
  } else if (load->has_trace()) {
    auto* trace = load->mutable_trace();
    if (trace->format() == llmbench::v1::TRACE_FORMAT_UNSPECIFIED) {
      trace->set_format(llmbench::v1::TRACE_FORMAT_AUTO);
    }
    if (!trace->has_speedup()) trace->set_speedup(1);
  } else if (scenario->prompts().has_multi_turn()) {
    if (!load->has_sessions() && !load->has_duration_seconds() && !load->has_requests()) {
      load->set_sessions(kDefaultSessions);
    }
  } else if (!load->has_requests() && !load->has_duration_seconds()) {
    load->set_requests(100);
  }
  auto* thresholds = scenario->mutable_thresholds();
  if (!thresholds->has_max_lateness_p99_ms()) thresholds->set_max_lateness_p99_ms(10);
  if (!thresholds->has_max_error_rate()) thresholds->set_max_error_rate(kDefaultMaxErrorRate);
  if (!thresholds->has_engine_down_seconds()) {
    thresholds->set_engine_down_seconds(kDefaultEngineDownSeconds);
  }
  auto* outputs = scenario->mutable_outputs();
  if (!outputs->has_csv()) outputs->set_csv(true);
  if (!outputs->has_html()) outputs->set_html(true);
  if (!scenario->has_seed()) scenario->set_seed(42);
}

absl::Status ValidateScenario(const Scenario& scenario, const ValidateOptions& options) {
  return Validator(options).Run(scenario);
}

absl::StatusOr<Scenario> ParseScenarioYaml(std::string_view yaml, std::string_view filename,
                                           const std::string& base_dir) {
  if (yaml.size() > kMaxScenarioBytes) {
    return absl::InvalidArgumentError(FileError(
        filename, SourcePosition{},
        absl::StrCat("file is too large (", yaml.size(), " bytes; the limit is ",
                     kMaxScenarioBytes, ")")));
  }
  if (auto bad = CheckText(yaml)) {
    return absl::InvalidArgumentError(
        FileError(filename, PositionOfOffset(yaml, bad->first), bad->second));
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
    return absl::InvalidArgumentError(FileError(
        filename, PositionOf(stuck.mark),
        c > 0x20 && c < 0x7f
            ? absl::StrCat("YAML syntax error: unexpected \"", std::string(1, static_cast<char>(c)),
                           "\" outside a flow collection")
            : std::string("YAML syntax error: unexpected token")));
  } catch (const YAML::DeepRecursion& e) {
    return absl::InvalidArgumentError(FileError(
        filename, PositionOf(e.mark),
        absl::StrCat("YAML nesting is too deep (more than ", e.depth(), " levels)")));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        FileError(filename, PositionOf(e.mark), absl::StrCat("YAML syntax error: ", e.msg)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        FileError(filename, SourcePosition{}, absl::StrCat("cannot parse YAML: ", e.what())));
  }
  if (documents.empty() || documents[0].IsNull()) {
    if (documents.size() <= 1) {
      return absl::InvalidArgumentError(
          FileError(filename, SourcePosition{},
                    "file is empty (a scenario needs at least engines)"));
    }
  }
  if (documents.size() > 1) {
    return absl::InvalidArgumentError(
        FileError(filename, PositionOf(documents[1].Mark()),
                  absl::StrCat("expected one YAML document, found ", documents.size())));
  }
  const YAML::Node& root = documents[0];
  ScenarioSourceMap source{std::string(filename)};
  Scenario scenario;
  try {
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(FileError(
          filename, PositionOf(root.Mark()),
          absl::StrCat("expected a mapping of scenario keys, got ", DescribeNode(root))));
    }
    source.Record("", PositionOf(root.Mark()));
    YamlMapper mapper(&source);
    LLMBENCH_RETURN_IF_ERROR(mapper.MapMessage(root, "", &scenario));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        FileError(filename, PositionOf(e.mark), absl::StrCat("YAML error: ", e.msg)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        FileError(filename, SourcePosition{}, absl::StrCat("cannot read YAML: ", e.what())));
  }
  ApplyScenarioDefaults(&scenario);
  ValidateOptions options;
  options.base_dir = base_dir;
  options.source = &source;
  LLMBENCH_RETURN_IF_ERROR(ValidateScenario(scenario, options));
  return scenario;
}

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": cannot read: ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read: ",
                     std::strerror(S_ISDIR(info.st_mode) ? EISDIR : errno)));
  }
  if (static_cast<uint64_t>(info.st_size) > kMaxScenarioBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(
        FileError(path, SourcePosition{},
                  absl::StrCat("file is too large (", info.st_size, " bytes; the limit is ",
                               kMaxScenarioBytes, ")")));
  }
  std::string content;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot read: ", std::strerror(error)));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > kMaxScenarioBytes) break;  // grew while we read; reported below
  }
  ::close(fd);
  return ParseScenarioYaml(content, path, DirName(path));
}

std::string ScenarioToYaml(const Scenario& scenario) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitMessage(out, scenario);
  return absl::StrCat("# llmbench scenario, as run (defaults applied)\n", out.c_str(), "\n");
}

}  // namespace llmbench::coordinator
