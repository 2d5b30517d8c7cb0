// Raw export (opt-in: outputs.text, `--export-text`): requests.jsonl, one JSON object per
// request, with the prompt as sent and the engine's reply as the worker kept it (at most
// outputs.text_max_bytes of it; reply_truncated says when cut), for checking what was actually
// generated (docs/metrics.md, "Raw export"). Without the option nothing of this runs: the worker
// copies no reply text and the coordinator writes no file.
//
// Line format (keys in this order; absent values left out):
//   {"request_id":17,"engine":"vllm","worker_id":"w1","prompt_index":3,"warmup":false,
//    "error_class":"none","max_tokens":128,"input_tokens":512,"output_tokens":128,
//    "system":"...","prompt":"...","reply":"...","reply_truncated":false}
//
// Thread-compatible (the dispatcher calls it under its lock).
#ifndef LLMBENCH_COORDINATOR_TEXT_EXPORT_H_
#define LLMBENCH_COORDINATOR_TEXT_EXPORT_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

inline constexpr char kRequestsJsonlFileName[] = "requests.jsonl";
// outputs.text_max_bytes default: reply bytes the worker keeps per request.
inline constexpr uint32_t kDefaultTextMaxBytes = 65536;

// The reply bytes each worker keeps per request for `scenario` (0 when outputs.text is off).
uint32_t ReplyTextBytes(const llmbench::v1::Scenario& scenario);

// One line of requests.jsonl, without the newline.
std::string TextExportLine(const llmbench::v1::RequestRecord& record,
                           const llmbench::v1::Prompt* prompt);

class TextExportWriter {
 public:
  // Creates or truncates `path`.
  static absl::StatusOr<std::unique_ptr<TextExportWriter>> Open(const std::string& path);
  ~TextExportWriter();
  TextExportWriter(const TextExportWriter&) = delete;
  TextExportWriter& operator=(const TextExportWriter&) = delete;

  // Buffered; a write error is reported by Close(). `prompt` may be null (unknown index).
  void Append(const llmbench::v1::RequestRecord& record, const llmbench::v1::Prompt* prompt);
  absl::Status Close();  // idempotent

 private:
  TextExportWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  void Flush();

  std::string path_;
  std::FILE* file_;  // owned
  std::string buffer_;
  absl::Status status_;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_TEXT_EXPORT_H_
