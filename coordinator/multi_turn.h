// Multi-turn conversations on the coordinator's side (docs/scenario.md "Multi-turn
// conversations"): the sessions' turns and think times in the prompts, the flags of
// quick/load/compare, and the console's per-turn table.
//
// Thread-safety: free functions.
#ifndef LLMBENCH_COORDINATOR_MULTI_TURN_H_
#define LLMBENCH_COORDINATOR_MULTI_TURN_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

// Default measured sessions of a multi-turn run bounded by neither sessions nor duration.
inline constexpr uint64_t kDefaultSessions = 20;
// Default turns of a synthetic session.
inline constexpr uint32_t kDefaultTurns = 2;
// Largest think time, ms (one hour).
inline constexpr uint32_t kMaxThinkMs = 3'600'000;

// Whether `engine` sends on a chat route (an unset api defaults to chat for vLLM and OpenAI),
// the route a multi-turn session needs.
inline bool IsChatRoute(const llmbench::v1::Engine& engine) {
  return engine.api() == llmbench::v1::API_CHAT_COMPLETIONS ||
         engine.api() == llmbench::v1::API_OLLAMA_CHAT ||
         (engine.api() == llmbench::v1::API_UNSPECIFIED &&
          (engine.kind() == llmbench::v1::ENGINE_KIND_VLLM ||
           engine.kind() == llmbench::v1::ENGINE_KIND_OPENAI));
}

inline bool IsMultiTurn(const llmbench::v1::Scenario& scenario) {
  return scenario.prompts().has_multi_turn();
}

// "sessions" or "requests".
std::string LoadUnitName(llmbench::v1::LoadUnit unit);

// Adds each prompt's later turns (Prompt.next_turns, next_turn_tokens) and think times
// (think_ms) per `prompts.multi_turn`. Synthetic: turns - 1 user messages of words, lengths
// drawn from user_tokens (default synthetic.input_tokens), from their own seeded stream.
// Dataset: `later_turns[i]` are prompt i's later human turns, cut to turns - 1 when turns > 0.
// Think times: one draw per later turn from think_time_ms (none: 0), their own stream.
void AddConversationTurns(const llmbench::v1::Prompts& prompts, uint64_t seed,
                          std::vector<std::vector<std::string>> later_turns,
                          std::vector<llmbench::v1::Prompt>* out);

// One think time (ms) from `d` (fixed may be 0; the others at least their min, at most
// kMaxThinkMs).
uint32_t DrawThinkMs(const llmbench::v1::TokenLengthDistribution& d, std::mt19937_64& rng);

// --think-time: a duration ("500ms", "2s", "1.5s", "750" = ms) meaning fixed, or a distribution
// in ms as --output-tokens-dist writes one: fixed:MS, uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX],
// lognormal:MEAN:SIGMA[:MIN:MAX]. InvalidArgument "--think-time: WHY, got \"TEXT\"".
absl::StatusOr<llmbench::v1::TokenLengthDistribution> ParseThinkTime(const std::string& text);
// --load-unit: sessions | requests.
absl::StatusOr<llmbench::v1::LoadUnit> ParseLoadUnit(const std::string& text);

// Flags of quick/load/compare for multi-turn runs (`--turns N` turns it on):
//   --turns N        prompts.multi_turn.turns (1 .. 1024; with --dataset 0 means all turns)
//   --think-time T   prompts.multi_turn.think_time_ms (see ParseThinkTime)
//   --load-unit U    load.load_unit
//   --sessions N     load.sessions; without it, --requests N (or its default) becomes
//                    ceil(N / turns) sessions
// --think-time, --load-unit and --sessions without --turns are usage errors.
struct MultiTurnFlags {
  std::string turns, think_time, load_unit, sessions;
  bool given() const {
    return !turns.empty() || !think_time.empty() || !load_unit.empty() || !sessions.empty();
  }
  absl::Status Apply(llmbench::v1::Scenario* scenario) const;
};

// The console's per-turn lines of one engine (empty without a multi-turn report):
//   sessions: 20 started, 19 completed, 1 failed, 0 interrupted (load unit sessions)
//   turn  requests  ok   input tok p50  TTFT p50 ms  TTFT p99 ms  E2E p50 ms
//      0        20  20             128        12.3         15.0       230.1
std::string FormatTurnTable(const llmbench::v1::EngineResult& engine);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_MULTI_TURN_H_
