#include "sim/chat_history.h"

#include <simdjson.h>

#include <functional>
#include <vector>

#include "sim/prom.h"

namespace llmbench::sim {

namespace {

uint64_t HashText(std::string_view text) { return std::hash<std::string_view>{}(text); }

}  // namespace

void ChatHistoryLog::AddReply(std::string_view text) {
  const uint64_t h = HashText(text);
  std::lock_guard<std::mutex> lock(mu_);
  if (!replies_.insert(h).second) return;
  order_.push_back(h);
  if (order_.size() > kMaxReplies) {
    for (size_t i = 0; i < kMaxReplies / 2; ++i) {
      replies_.erase(order_.front());
      order_.pop_front();
    }
  }
}

void ChatHistoryLog::ObserveRequest(std::string_view body) {
  uint64_t messages = 0;
  std::vector<uint64_t> assistant;
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  if (parser.parse(body.data(), body.size()).at_key("messages").get_array().get(array) ==
      simdjson::SUCCESS) {
    for (simdjson::dom::element m : array) {
      ++messages;
      std::string_view role;
      std::string_view content;
      if (m["role"].get_string().get(role) == simdjson::SUCCESS && role == "assistant") {
        assistant.push_back(
            m["content"].get_string().get(content) == simdjson::SUCCESS ? HashText(content) : 0);
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_;
  messages_ += messages;
  if (messages > max_messages_) max_messages_ = messages;
  if (!assistant.empty()) ++history_requests_;
  assistant_ += assistant.size();
  for (uint64_t h : assistant) {
    if (replies_.count(h) > 0) ++matched_;
  }
}

void ChatHistoryLog::AppendMetrics(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto family = [&](std::string_view name, std::string_view type, std::string_view help,
                    uint64_t value) {
    out->append("# HELP ").append(name).append(" ").append(help).append("\n");
    out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
    AppendSample(*out, name, "", static_cast<double>(value), false);
  };
  family("llmbench_sim_chat_requests_total", "counter", "Chat requests parsed.", requests_);
  family("llmbench_sim_chat_messages_total", "counter", "Messages of the chat requests.",
         messages_);
  family("llmbench_sim_chat_max_messages", "gauge", "The most messages one chat request carried.",
         max_messages_);
  family("llmbench_sim_chat_history_requests_total", "counter",
         "Chat requests carrying at least one assistant message (a conversation's history).",
         history_requests_);
  family("llmbench_sim_chat_assistant_messages_total", "counter",
         "Assistant messages received in chat requests.", assistant_);
  family("llmbench_sim_chat_assistant_replies_matched_total", "counter",
         "Assistant messages whose content is exactly a reply this simulator generated.", matched_);
}

}  // namespace llmbench::sim
