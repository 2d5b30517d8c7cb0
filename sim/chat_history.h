// ChatHistoryLog: what the simulator's chat routes saw of multi-turn conversations, so a
// client's history can be checked from outside (GET /sim/metrics):
//   llmbench_sim_chat_requests_total               chat requests parsed
//   llmbench_sim_chat_messages_total               their messages (system, user, assistant)
//   llmbench_sim_chat_max_messages                 the most messages one request carried
//   llmbench_sim_chat_history_requests_total       requests carrying at least one assistant message
//   llmbench_sim_chat_assistant_messages_total     assistant messages received
//   llmbench_sim_chat_assistant_replies_matched_total   ... whose content is exactly a reply
//                                                  this simulator generated earlier
// A client that sends the engine's actual replies back has matched == assistant messages; one
// that sends anything else (its own text, a cut reply) does not.
//
// Thread-safety: thread-safe (one mutex). Memory: at most kMaxReplies reply hashes (the oldest
// half is forgotten when full).
#ifndef LLMBENCH_SIM_CHAT_HISTORY_H_
#define LLMBENCH_SIM_CHAT_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace llmbench::sim {

class ChatHistoryLog {
 public:
  static constexpr size_t kMaxReplies = 1 << 20;

  // A reply generated in full (its whole text as streamed).
  void AddReply(std::string_view text);
  // A chat request's JSON body: counts its `messages`. A body without a messages array counts
  // as a request with none.
  void ObserveRequest(std::string_view body);
  // The families above in Prometheus text format.
  void AppendMetrics(std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::unordered_set<uint64_t> replies_;
  std::deque<uint64_t> order_;
  uint64_t requests_ = 0;
  uint64_t messages_ = 0;
  uint64_t max_messages_ = 0;
  uint64_t history_requests_ = 0;
  uint64_t assistant_ = 0;
  uint64_t matched_ = 0;
};

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_CHAT_HISTORY_H_
