#include "worker/conversation.h"

#include <algorithm>
#include <utility>

#include "proto/wire/session_ids.h"

namespace llmbench::worker {

uint32_t SessionTurns(const llmbench::v1::Prompt& prompt) {
  return std::min<uint32_t>(1 + static_cast<uint32_t>(prompt.next_turns_size()),
                            wire::kMaxTurnsPerSession);
}

uint32_t ThinkMsBefore(const llmbench::v1::Prompt& prompt, uint32_t turn) {
  if (turn == 0 || static_cast<int>(turn) > prompt.think_ms_size()) return 0;
  return prompt.think_ms(static_cast<int>(turn) - 1);
}

llmbench::v1::Prompt Conversation::TurnPrompt(const llmbench::v1::Prompt& base) const {
  llmbench::v1::Prompt prompt;
  prompt.set_system(base.system());
  if (base.has_max_tokens()) prompt.set_max_tokens(base.max_tokens());
  if (next_turn == 0) {
    prompt.set_text(base.text());
    prompt.set_approx_tokens(base.approx_tokens());
  } else {
    const int i = static_cast<int>(next_turn) - 1;
    if (i < base.next_turns_size()) prompt.set_text(base.next_turns(i));
    if (i < base.next_turn_tokens_size()) prompt.set_approx_tokens(base.next_turn_tokens(i));
  }
  prompt.mutable_history()->Assign(history.begin(), history.end());
  return prompt;
}

void Conversation::AddReply(const llmbench::v1::Prompt& base, std::string reply) {
  llmbench::v1::ChatMessage user;
  user.set_role("user");
  if (next_turn == 0) {
    user.set_content(base.text());
  } else if (static_cast<int>(next_turn) - 1 < base.next_turns_size()) {
    user.set_content(base.next_turns(static_cast<int>(next_turn) - 1));
  }
  history.push_back(std::move(user));
  llmbench::v1::ChatMessage assistant;
  assistant.set_role("assistant");
  assistant.set_content(std::move(reply));
  history.push_back(std::move(assistant));
  ++next_turn;
}

}  // namespace llmbench::worker
