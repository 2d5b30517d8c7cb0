// Trace files for trace replay (Load.trace; docs/scenario.md, "Trace replay"): JSONL, one
// request per line, in one of two formats:
//
// - mooncake (the Mooncake trace format AIPerf reads):
//     {"timestamp": 0, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]}
//   timestamp in ms (integer or fraction, >= 0); input_length and output_length whole numbers
//   1 .. 1 000 000 (both required); hash_ids optional, a list of whole numbers >= 0 (at most
//   kMaxTraceHashIds), one per prompt block: equal ids mean equal prompt blocks.
// - plain:
//     {"timestamp": 1500, "prompt": "Tell me a story", "max_tokens": 64}
//   prompt a non-empty string (required); max_tokens optional (1 .. 1 000 000; absent: the
//   scenario's generation.max_tokens).
//
// Format auto: the first entry decides (input_length or hash_ids: mooncake; prompt: plain);
// every entry must then have that format's required fields. Other fields are ignored (traces
// carry extras). Empty lines are skipped.
//
// Timestamps out of order are accepted: the entries are sorted by timestamp (stably, so equal
// timestamps keep the file's order) and the number of entries that were below an earlier
// timestamp is reported (TraceFile::reordered).
//
// Limits: kMaxTraceFileBytes per file, kMaxTraceEntries entries. Every error names the file as
// given, the 1-based line and the field, e.g.
//   "trace.jsonl:3: timestamp: must be a number >= 0 (milliseconds), got -5"
//   "trace.jsonl:7: input_length: required in the mooncake format"
//   "trace.jsonl:2: invalid JSON: ..."
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_TRACE_FILE_H_
#define LLMBENCH_COORDINATOR_TRACE_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

inline constexpr uint64_t kMaxTraceFileBytes = uint64_t{512} << 20;  // 512 MiB
inline constexpr size_t kMaxTraceEntries = 1'000'000;
inline constexpr uint32_t kMaxTraceLength = 1'000'000;  // input/output lengths, max_tokens
inline constexpr size_t kMaxTraceHashIds = 4096;        // hash ids per entry

struct TraceEntry {
  double timestamp_ms = 0;
  uint32_t line = 0;  // 1-based line in the file
  // mooncake
  uint32_t input_length = 0;
  uint32_t output_length = 0;
  std::vector<uint64_t> hash_ids;
  // plain
  std::string prompt;
  std::optional<uint32_t> max_tokens;
};

struct TraceFile {
  llmbench::v1::TraceFormat format = llmbench::v1::TRACE_FORMAT_MOONCAKE;  // never AUTO
  std::vector<TraceEntry> entries;  // sorted by timestamp, stable
  uint64_t reordered = 0;           // entries whose timestamp was below an earlier one
};

// Parses `content` (the whole file). `shown` names the file in errors. `format` AUTO or
// UNSPECIFIED detects it. InvalidArgument for any bad entry, an empty trace or too many entries.
absl::StatusOr<TraceFile> ParseTrace(std::string_view content, const std::string& shown,
                                     llmbench::v1::TraceFormat format);

// Reads `resolved` (a regular file of at most kMaxTraceFileBytes; opened without blocking on a
// FIFO) and parses it. Errors name `shown`.
absl::StatusOr<TraceFile> LoadTraceFile(const std::string& resolved, const std::string& shown,
                                        llmbench::v1::TraceFormat format);

// "mooncake" or "plain".
const char* TraceFormatName(llmbench::v1::TraceFormat format);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_TRACE_FILE_H_
