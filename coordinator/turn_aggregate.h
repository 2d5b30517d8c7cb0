// TurnAggregator: the multi-turn part of the results (EngineResult.multi_turn, docs/metrics.md
// "Multi-turn conversations"): per turn index, the TTFT, ITL, E2E, input and output token
// distributions of the measured turns, and per engine the session totals.
//
// A session is started when any measured record of it arrives; completed when its session_end
// record succeeded; failed when its session_end record failed (a failed turn ends its session);
// interrupted otherwise (cut by a duration bound or a cancel, or its worker was lost).
//
// Thread-safety: thread-compatible (the Aggregator that owns it is).
#ifndef LLMBENCH_COORDINATOR_TURN_AGGREGATE_H_
#define LLMBENCH_COORDINATOR_TURN_AGGREGATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

class TurnAggregator {
 public:
  // Merges a measured multi-turn record (one with session_id). Warm-up records and records
  // without a session are ignored.
  void Add(const llmbench::v1::RequestRecord& record);

  // The report of `engine`; nullopt when no multi-turn record of it arrived.
  std::optional<llmbench::v1::MultiTurnReport> Report(const std::string& engine) const;

 private:
  struct Turn {
    uint64_t requests = 0;
    uint64_t successes = 0;
    std::vector<double> ttft_ms, itl_ms, e2e_ms, input_tokens, output_tokens;
  };
  struct Session {
    int64_t first_sent_ns = 0;
    int64_t last_end_ns = 0;
    uint32_t records = 0;
    bool ended = false;
    bool failed = false;
  };
  struct Engine {
    std::vector<Turn> turns;
    std::unordered_map<uint64_t, Session> sessions;
  };
  std::map<std::string, Engine> engines_;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_TURN_AGGREGATE_H_
