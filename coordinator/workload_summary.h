// The console lines of issue 17's results, printed by ConsoleSummary (exporters.h) after the
// table: the run's label and tags, the trace replayed (load.trace), each engine's prompt and output lengths (requested vs
// engine-reported, how prompts were counted) and each GPU a DCGM exporter reported. Empty for a
// result that has none of them (so older results print as before). Ends with "\n" when not
// empty. Engine-supplied text is escaped (common/text_safety.h).
#ifndef LLMBENCH_COORDINATOR_WORKLOAD_SUMMARY_H_
#define LLMBENCH_COORDINATOR_WORKLOAD_SUMMARY_H_

#include <string>

#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

std::string WorkloadSummaryLines(const llmbench::v1::RunResult& result);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_WORKLOAD_SUMMARY_H_
