#include "coordinator/text_export.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_writer.h"
#include "coordinator/scenario_fields.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

uint32_t ReplyTextBytes(const v1::Scenario& scenario) {
  if (!scenario.outputs().text()) return 0;
  return scenario.outputs().has_text_max_bytes() ? scenario.outputs().text_max_bytes()
                                                 : kDefaultTextMaxBytes;
}

std::string TextExportLine(const v1::RequestRecord& record, const v1::Prompt* prompt) {
  std::string line = "{\"request_id\":";
  absl::StrAppend(&line, record.request_id(), ",\"engine\":");
  AppendJsonString(line, record.engine());
  line.append(",\"worker_id\":");
  AppendJsonString(line, record.worker_id());
  absl::StrAppend(
      &line, ",\"prompt_index\":", record.prompt_index(),
      ",\"warmup\":", record.warmup() ? "true" : "false", ",\"error_class\":\"",
      EnumYamlName(v1::ErrorClass_descriptor()->FindValueByNumber(record.error_class())), "\"");
  if (record.has_max_tokens_sent())
    absl::StrAppend(&line, ",\"max_tokens\":", record.max_tokens_sent());
  if (record.has_input_tokens())
    absl::StrAppend(&line, ",\"input_tokens\":", record.input_tokens());
  absl::StrAppend(&line, ",\"output_tokens\":", record.output_tokens());
  if (prompt != nullptr) {
    if (!prompt->system().empty()) {
      line.append(",\"system\":");
      AppendJsonString(line, prompt->system());
    }
    line.append(",\"prompt\":");
    AppendJsonString(line, prompt->text());
  }
  line.append(",\"reply\":");
  AppendJsonString(line, record.reply_text());
  absl::StrAppend(&line, ",\"reply_truncated\":", record.reply_text_truncated() ? "true" : "false",
                  "}");
  return line;
}

absl::StatusOr<std::unique_ptr<TextExportWriter>> TextExportWriter::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<TextExportWriter>(new TextExportWriter(path, file));
}

TextExportWriter::~TextExportWriter() { (void)Close(); }

void TextExportWriter::Flush() {
  if (file_ == nullptr || buffer_.empty()) return;
  if (status_.ok() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    status_ = absl::DataLossError(absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
  }
  buffer_.clear();
}

void TextExportWriter::Append(const v1::RequestRecord& record, const v1::Prompt* prompt) {
  buffer_.append(TextExportLine(record, prompt));
  buffer_.push_back('\n');
  if (buffer_.size() > (1 << 20)) Flush();
}

absl::Status TextExportWriter::Close() {
  if (file_ == nullptr) return status_;
  Flush();
  if (std::fclose(file_) != 0 && status_.ok()) {
    status_ = absl::DataLossError(absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
  }
  file_ = nullptr;
  return status_;
}

}  // namespace llmbench::coordinator
