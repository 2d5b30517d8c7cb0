// Trace replay flags of quick, load and compare (load.trace; docs/cli.md):
//   --trace FILE            replay a timestamped JSONL trace (mooncake or plain) instead of
//                           --rate / --concurrency and synthetic prompts
//   --trace-format F        auto (default), mooncake or plain
//   --trace-speedup X       play the trace X times as fast (> 0, default 1)
//   --trace-start S         window start, seconds from the trace's first timestamp
//   --trace-end S           window end (exclusive), seconds from the first timestamp
//   --trace-block-size N    mooncake: tokens per hash_ids block (1 .. kMaxTraceBlockTokens,
//                           default 512)
//   --trace-loop            repeat the window until --duration / --requests ends the run
// --requests caps the replayed requests and --duration cuts the replay at that time; without
// them the whole window is played once. A bad value is a usage error naming its flag.
#ifndef LLMBENCH_COORDINATOR_CLI_TRACE_FLAGS_H_
#define LLMBENCH_COORDINATOR_CLI_TRACE_FLAGS_H_

#include <string>

#include "absl/status/status.h"
#include "llmbench/v1/scenario.pb.h"

namespace CLI {
class App;
}  // namespace CLI

namespace llmbench::coordinator {

struct TraceFlags {
  std::string file, format, speedup, start, end, block_size;
  bool loop = false;
  CLI::App* app = nullptr;  // the command: which workload flags were given

  void Add(CLI::App* command);
  absl::Status Apply(llmbench::v1::Scenario* scenario) const;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_CLI_TRACE_FLAGS_H_
