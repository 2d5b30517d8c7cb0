#include "coordinator/requests_csv.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "coordinator/aggregate.h"
#include "coordinator/exporters.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;
namespace pb = ::google::protobuf;

// Where a column's value goes: a field of the record, or of its engine_timings.
struct RequestsCsvReader::Column {
  const pb::FieldDescriptor* field = nullptr;  // nullptr: a column this version ignores
  bool in_timings = false;
};

namespace {

// The enums the writer names.
bool ParseErrorClass(const std::string& text, v1::ErrorClass* out) {
  for (int v = v1::ErrorClass_MIN; v <= v1::ErrorClass_MAX; ++v) {
    if (ErrorClassName(static_cast<v1::ErrorClass>(v)) == text) {
      *out = static_cast<v1::ErrorClass>(v);
      return true;
    }
  }
  return false;
}

bool ParseTokenSource(const std::string& text, v1::TokenSource* out) {
  if (text == "engine") {
    *out = v1::TOKEN_SOURCE_ENGINE;
  } else if (text == "chunks") {
    *out = v1::TOKEN_SOURCE_CHUNKS;
  } else if (text == "unspecified") {
    *out = v1::TOKEN_SOURCE_UNSPECIFIED;
  } else {
    return false;
  }
  return true;
}

}  // namespace

RequestsCsvReader::RequestsCsvReader(std::istream* in, std::string source)
    : in_(in), source_(std::move(source)) {}

RequestsCsvReader::~RequestsCsvReader() = default;

absl::StatusOr<bool> RequestsCsvReader::NextFields() {
  std::string& record = record_;
  std::string& line = line_buffer_;
  while (true) {
    if (!std::getline(*in_, line)) return false;
    ++line_;
    if (!line.empty() || in_->peek() != EOF) break;  // a last empty line ends the file
    return false;
  }
  record_line_ = line_;
  record.swap(line);
  while (std::count(record.begin(), record.end(), '"') % 2 != 0) {
    if (!std::getline(*in_, line)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s:%d: a quoted field is not closed before the end of the file",
                          source_, record_line_));
    }
    ++line_;
    record.push_back('\n');
    record.append(line);
  }
  if (!record.empty() && record.back() == '\r') record.pop_back();
  // RFC 4180 fields; they reuse the strings of the previous row.
  size_t count = 0;
  auto next_field = [&]() -> std::string& {
    if (count == fields_.size()) fields_.emplace_back();
    std::string& field = fields_[count++];
    field.clear();
    return field;
  };
  size_t i = 0;
  while (true) {
    std::string& field = next_field();
    if (i < record.size() && record[i] == '"') {
      ++i;
      while (true) {
        if (i >= record.size()) {
          return absl::InvalidArgumentError(
              absl::StrFormat("%s:%d: a quoted field is not closed", source_, record_line_));
        }
        if (record[i] == '"') {
          if (i + 1 < record.size() && record[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(record[i++]);
      }
      if (i < record.size() && record[i] != ',') {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s:%d: field %d has text after its closing quote", source_, record_line_, count));
      }
    } else {
      size_t end = record.find(',', i);
      if (end == std::string::npos) end = record.size();
      field.assign(record, i, end - i);
      i = end;
    }
    if (i >= record.size()) break;
    ++i;  // the comma
    if (i == record.size()) {
      next_field();
      break;
    }
  }
  fields_.resize(count);
  return true;
}

absl::Status RequestsCsvReader::ReadHeader() {
  header_read_ = true;
  absl::StatusOr<bool> got = NextFields();
  if (!got.ok()) return got.status();
  if (!*got) return absl::InvalidArgumentError(absl::StrCat(source_, ": empty (no header line)"));
  const pb::Descriptor* record = v1::RequestRecord::descriptor();
  const pb::Descriptor* timings = v1::EngineTimings::descriptor();
  width_ = fields_.size();
  columns_.assign(width_, Column{});
  for (size_t c = 0; c < width_; ++c) {
    const std::string& name = fields_[c];
    if (const pb::FieldDescriptor* f = record->FindFieldByName(name);
        f != nullptr && f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      columns_[c].field = f;
    } else if (const pb::FieldDescriptor* t = timings->FindFieldByName(name)) {
      columns_[c].field = t;
      columns_[c].in_timings = true;
    }
  }
  for (const char* required : {"engine", "warmup", "sent_ns", "end_ns", "error_class"}) {
    if (std::find(fields_.begin(), fields_.end(), required) == fields_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_, ":1: no column \"", required, "\" (not a llmbench requests.csv)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> RequestsCsvReader::Next(v1::RequestRecord* record) {
  if (!header_read_) LLMBENCH_RETURN_IF_ERROR(ReadHeader());
  absl::StatusOr<bool> got = NextFields();
  if (!got.ok() || !*got) return got;
  if (fields_.size() != width_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:%d: %d fields, the header has %d", source_, record_line_, fields_.size(), width_));
  }
  ++rows_;
  record->Clear();
  for (size_t c = 0; c < width_; ++c) {
    const Column& column = columns_[c];
    const std::string& text = fields_[c];
    if (column.field == nullptr || (text.empty() && column.field->has_presence())) continue;
    pb::Message* target = column.in_timings ? static_cast<pb::Message*>(record->mutable_engine_timings())
                                            : static_cast<pb::Message*>(record);
    const pb::Reflection* r = target->GetReflection();
    const pb::FieldDescriptor* f = column.field;
    auto bad = [&](const char* what) {
      return absl::InvalidArgumentError(absl::StrFormat("%s:%d: column %s: '%s' %s", source_,
                                                        record_line_, f->name(), text, what));
    };
    if (f->is_repeated()) {  // chunk_offsets_ns
      if (text.empty()) continue;
      for (absl::string_view part : absl::StrSplit(text, ';')) {
        int64_t v = 0;
        if (!absl::SimpleAtoi(part, &v)) return bad("is not a ';'-separated list of integers");
        r->AddInt64(target, f, v);
      }
      continue;
    }
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT64: {
        int64_t v = 0;
        if (!absl::SimpleAtoi(text, &v)) return bad("is not an integer");
        r->SetInt64(target, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = 0;
        if (!absl::SimpleAtoi(text, &v)) return bad("is not a count");
        r->SetUInt64(target, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_INT32: {
        int32_t v = 0;
        if (!absl::SimpleAtoi(text, &v)) return bad("is not an integer");
        r->SetInt32(target, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v = 0;
        if (!absl::SimpleAtoi(text, &v)) return bad("is not a count");
        r->SetUInt32(target, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
        double v = 0;
        if (!absl::SimpleAtod(text, &v)) return bad("is not a number");
        r->SetDouble(target, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        if (text != "true" && text != "false") return bad("is not true or false");
        r->SetBool(target, f, text == "true");
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING:
        r->SetString(target, f, text);
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        if (f->enum_type() == v1::ErrorClass_descriptor()) {
          v1::ErrorClass v;
          if (!ParseErrorClass(text, &v)) return bad("is not an error class");
          record->set_error_class(v);
        } else if (f->enum_type() == v1::TokenSource_descriptor()) {
          v1::TokenSource v;
          if (!ParseTokenSource(text, &v)) return bad("is not a token source");
          record->set_output_token_source(v);
        }
        break;
      }
      default:
        break;
    }
  }
  return true;
}

absl::Status ForEachStoredRequest(
    const std::string& dir, const std::function<void(const v1::RequestRecord&)>& on_record) {
  const std::string path = (std::filesystem::path(dir) / kRequestsFileName).string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read (no requests.csv)"));
  RequestsCsvReader reader(&in, path);
  v1::RequestRecord record;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok()) return got.status();
    if (!*got) return absl::OkStatus();
    on_record(record);
  }
}

}  // namespace llmbench::coordinator
