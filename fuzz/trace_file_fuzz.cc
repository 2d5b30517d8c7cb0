// Fuzz target: the trace file loader (coordinator/trace_file.h).
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "coordinator/trace_file.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/fuzz_util.h"

namespace llmbench::fuzz {

int FuzzTraceLoader(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr llmbench::v1::TraceFormat kFormats[] = {
      llmbench::v1::TRACE_FORMAT_AUTO, llmbench::v1::TRACE_FORMAT_MOONCAKE,
      llmbench::v1::TRACE_FORMAT_PLAIN, llmbench::v1::TRACE_FORMAT_UNSPECIFIED};
  const llmbench::v1::TraceFormat format = kFormats[data[0] % 4];
  const std::string_view content(reinterpret_cast<const char*>(data) + 1, size - 1);
  const absl::StatusOr<coordinator::TraceFile> trace =
      coordinator::ParseTrace(content, "fuzz.jsonl", format);
  if (!trace.ok()) {
    const absl::Status& status = trace.status();
    LLMBENCH_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument,
                        std::string(status.ToString()).c_str());
    LLMBENCH_FUZZ_CHECK(absl::StartsWith(status.message(), "fuzz.jsonl"),
                        std::string(status.message()).c_str());
    LLMBENCH_FUZZ_CHECK(
        IsValidUtf8(std::string_view(status.message().data(), status.message().size())),
        "error message is not UTF-8");
    return 0;
  }
  LLMBENCH_FUZZ_CHECK(!trace->entries.empty(), "a parsed trace has entries");
  LLMBENCH_FUZZ_CHECK(trace->format == llmbench::v1::TRACE_FORMAT_MOONCAKE ||
                          trace->format == llmbench::v1::TRACE_FORMAT_PLAIN,
                      "the format is resolved");
  LLMBENCH_FUZZ_CHECK(trace->entries.size() <= coordinator::kMaxTraceEntries, "entry cap");
  double previous = 0;
  for (const coordinator::TraceEntry& e : trace->entries) {
    LLMBENCH_FUZZ_CHECK(e.timestamp_ms >= previous, "entries sorted by timestamp");
    previous = e.timestamp_ms;
    if (trace->format == llmbench::v1::TRACE_FORMAT_MOONCAKE) {
      LLMBENCH_FUZZ_CHECK(e.input_length >= 1 && e.input_length <= coordinator::kMaxTraceLength,
                          "input_length in range");
      LLMBENCH_FUZZ_CHECK(e.output_length >= 1 && e.output_length <= coordinator::kMaxTraceLength,
                          "output_length in range");
      LLMBENCH_FUZZ_CHECK(e.hash_ids.size() <= coordinator::kMaxTraceHashIds, "hash id cap");
    } else {
      LLMBENCH_FUZZ_CHECK(!e.prompt.empty(), "plain prompts are not empty");
    }
  }
  return 0;
}

}  // namespace llmbench::fuzz
