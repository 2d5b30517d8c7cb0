// Conversation: one multi-turn session on a worker loop (Shard.multi_turn). A session runs its
// prompt's turns in order: turn 0 is Prompt.text, turn t > 0 is Prompt.next_turns[t - 1], sent
// Prompt.think_ms[t - 1] ms after the reply to turn t - 1 ended. Every turn after the first
// carries the whole conversation so far as chat messages: each earlier user message followed by
// the engine's actual reply to it (the text it streamed, accumulated by the response parser).
//
// Thread-safety: thread-compatible; a Conversation belongs to one loop thread.
#ifndef LLMBENCH_WORKER_CONVERSATION_H_
#define LLMBENCH_WORKER_CONVERSATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "llmbench/v1/worker.pb.h"

namespace llmbench::worker {

// Largest reply (bytes) a worker keeps per turn for the history of a multi-turn session. A
// longer reply is cut on a UTF-8 boundary (the next turn then sends what was kept).
inline constexpr uint32_t kMaxHistoryReplyBytes = 16u << 20;

// Turns of a session on `prompt` (1 + next_turns), at most wire::kMaxTurnsPerSession.
uint32_t SessionTurns(const llmbench::v1::Prompt& prompt);
// Think time (ms) before turn `turn` (>= 1) of a session on `prompt`: think_ms[turn - 1], 0 when
// the prompt has none.
uint32_t ThinkMsBefore(const llmbench::v1::Prompt& prompt, uint32_t turn);

struct Conversation {
  uint64_t index = 0;         // the shard's session index k (warm-up sessions first)
  uint64_t session_id = 0;    // a shard id (proto/wire/session_ids.h)
  uint32_t prompt_index = 0;  // session_id % prompts
  bool warmup = false;
  uint32_t turns = 1;         // SessionTurns(prompt)
  uint32_t next_turn = 0;     // the turn to send next
  // The conversation so far (user, assistant, user, assistant, ...).
  std::vector<llmbench::v1::ChatMessage> history;

  // The prompt to send for turn `next_turn`: `base`'s system prompt and max_tokens, the turn's
  // user text and intended tokens, and the history.
  llmbench::v1::Prompt TurnPrompt(const llmbench::v1::Prompt& base) const;
  // Turn `next_turn` got `reply`: appends its user message and the reply to the history and
  // moves to the next turn.
  void AddReply(const llmbench::v1::Prompt& base, std::string reply);
  bool done() const { return next_turn >= turns; }
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_CONVERSATION_H_
