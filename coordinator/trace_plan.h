// Trace replay planning (Load.trace; docs/scenario.md, "Trace replay"): turns a trace file
// (coordinator/trace_file.h) into the prompt list every trace shard draws from and the
// schedule each request keeps on whichever worker runs it.
//
// - Window: entries whose time from the trace's first timestamp t0 lies in
//   [start_seconds, end_seconds) (no end: to the last entry). Entry i of the window is sent
//   offset_i = (timestamp_i - t0 - start_seconds) / speedup after the run's start instant
//   (Prompt.trace_offset_ns).
// - Loop: the window is played again every period: (end - start) / speedup when end_seconds
//   is given, else the window's span plus its mean gap between entries (1 s of trace time for
//   a window of one entry or of one instant), divided by speedup. Request id g is window entry
//   g % N of repetition g / N, sent at offset_{g % N} + (g / N) * period.
// - Requests: ids 0 .. G-1, G = the window's N entries (times the repetitions with loop), cut
//   at load.requests and at load.duration_seconds (requests whose send time is at or after it
//   are not planned); a loop needs one of the two. At most kMaxTraceRequests.
// - Prompts (one per window entry; approx_tokens = the intended length):
//   mooncake: input_length words; hash id h is block_tokens words (load.trace.block_tokens,
//   default kTraceBlockWords) drawn from the synthetic
//   vocabulary with a generator seeded by (scenario seed, h), so equal ids give equal text
//   blocks and prompts with equal leading ids share that text prefix (the engine's prefix
//   cache sees the trace's reuse); the k-th id covers words [k*B, (k+1)*B) of the prompt (B = block_tokens);
//   words beyond the ids (or a trace without hash_ids) are drawn per entry, so they are shared
//   with no other request. output_length becomes the prompt's max_tokens.
//   plain: the entry's prompt; max_tokens when given (else generation.max_tokens).
//   The system prompt (prompts.system_prompt) is copied as for other prompts.
//   Input lengths are words (one token per word, llmbench-sim's rule): prompts are never
//   recalibrated per engine (that would break equal blocks); each engine still counts them
//   (coordinator/prompt_lengths.h) and the results compare requested with engine-reported
//   lengths.
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_TRACE_PLAN_H_
#define LLMBENCH_COORDINATOR_TRACE_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/prompts.h"
#include "coordinator/trace_file.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

inline constexpr uint32_t kTraceBlockWords = 512;  // default load.trace.block_tokens (Mooncake's)
inline constexpr uint32_t kMaxTraceBlockTokens = 1'000'000;
inline constexpr uint64_t kMaxTraceRequests = 1'000'000;
// Sum of the window's input lengths (the prompt text is held in memory and sent to workers).
inline constexpr uint64_t kMaxTraceInputWords = 100'000'000;

struct TracePlan {
  PromptPlan prompts;     // one per window entry, trace_offset_ns set; synthetic = false
  int64_t period_ns = 0;  // loop period (0 < period)
  uint64_t requests = 0;  // G
  llmbench::v1::TraceInfo info;
};

// Reads load.trace.file (relative to base_dir unless absolute) and plans it. Errors name the
// file and line (trace_file.h) or the field ("load.trace.end_seconds: ...").
absl::StatusOr<TracePlan> PlanTrace(const llmbench::v1::Scenario& scenario,
                                    const std::string& base_dir);
// The same from a parsed trace (`shown`: the file as given).
absl::StatusOr<TracePlan> PlanTraceFile(const llmbench::v1::Scenario& scenario, TraceFile trace,
                                        const std::string& shown);

// The loop period for `prompts` (window entries with trace_offset_ns, ascending).
int64_t TracePeriodNs(const llmbench::v1::TraceLoad& trace,
                      const std::vector<llmbench::v1::Prompt>& prompts);
// G for `prompts` under `load` (its trace, loop, requests and duration_seconds); InvalidArgument
// for a loop without a bound or more than kMaxTraceRequests.
absl::StatusOr<uint64_t> TraceRequestCount(const llmbench::v1::Load& load,
                                           const std::vector<llmbench::v1::Prompt>& prompts);

// `scenario` with load.requests set to its trace's G, so that every part of a run that counts
// planned requests sees them. Reads the trace file.
absl::StatusOr<llmbench::v1::Scenario> ResolveTraceRequests(const llmbench::v1::Scenario& scenario,
                                                            const std::string& base_dir);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_TRACE_PLAN_H_
