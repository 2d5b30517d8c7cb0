// Multi-turn sessions against a real llmbench-sim over loopback (ShardRunner in-process): every
// turn after the first carries the history with the engine's ACTUAL replies, which the sim
// checks against the replies it generated (sim/chat_history.h, GET /sim/metrics).
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "proto/wire/session_ids.h"
#include "tests/harness/harness.h"
#include "worker/event_loop.h"
#include "worker/shard_runner.h"

namespace llmbench::worker {
namespace {

using llmbench::testing::SimProcess;
using llmbench::v1::RequestRecord;
using llmbench::v1::Shard;

std::unique_ptr<SimProcess> StartSim() {
  SimProcess::Options options;
  options.kinds = {"vllm", "ollama"};
  options.args = {"--jitter", "0", "--ttft-base-ms", "2", "--itl-ms", "1", "--natural-tokens", "0"};
  auto started = SimProcess::Start(options);
  EXPECT_TRUE(started.ok()) << started.status();
  return started.ok() ? *std::move(started) : nullptr;
}

// A sim metric's value from /sim/metrics (-1 when absent).
double SimMetric(const SimProcess& sim, const std::string& kind, const std::string& name) {
  llmbench::testing::HttpResponse r =
      llmbench::testing::HttpGet(sim.BaseUrl(kind) + "/sim/metrics");
  for (absl::string_view line : absl::StrSplit(r.body, '\n')) {
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ') {
      double v = 0;
      if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) return v;
    }
  }
  return -1;
}

Shard MultiTurnShard(const std::string& base_url, llmbench::v1::EngineKind kind,
                     llmbench::v1::Api api, uint64_t sessions, uint32_t turns, uint32_t concurrency,
                     uint32_t think_ms) {
  Shard shard;
  shard.set_run_id("run-mt");
  shard.set_shard_count(1);
  auto* engine = shard.mutable_engine();
  engine->set_name("sim");
  engine->set_kind(kind);
  engine->set_api(api);
  engine->set_base_url(base_url);
  engine->set_model("sim-model");
  shard.mutable_generation()->set_max_tokens(5);
  shard.mutable_generation()->set_ignore_eos(true);
  for (int p = 0; p < 2; ++p) {
    llmbench::v1::Prompt* prompt = shard.add_prompts();
    prompt->set_text(absl::StrCat("first question number ", p));
    prompt->set_approx_tokens(4);
    for (uint32_t t = 1; t < turns; ++t) {
      prompt->add_next_turns(absl::StrCat("follow up ", t, " of ", p));
      prompt->add_next_turn_tokens(4);
      prompt->add_think_ms(think_ms);
    }
  }
  shard.mutable_load()->mutable_concurrency()->set_concurrency(concurrency);
  auto* range = shard.add_request_ranges();
  range->set_first(0);
  range->set_count(sessions);
  shard.mutable_multi_turn()->set_load_unit(llmbench::v1::LOAD_UNIT_SESSIONS);
  return shard;
}

std::vector<RequestRecord> RunShard(const Shard& shard, uint64_t* connections = nullptr) {
  std::vector<RequestRecord> records;
  ShardRunnerOptions options;
  options.loop_threads = 1;
  options.worker_id = "w";
  auto runner = ShardRunner::Create(shard, options);
  EXPECT_TRUE(runner.ok()) << runner.status();
  if (!runner.ok()) return records;
  EXPECT_TRUE((*runner)->Start().ok());
  RecordQueue& queue = (*runner)->records();
  while (!queue.drained()) {
    queue.WaitPop(&records, 1024, EventLoop::MonotonicNowNs() + 20'000'000);
  }
  (*runner)->Join();
  queue.TryPop(&records, 1u << 20);
  if (connections != nullptr) *connections = (*runner)->connections_opened();
  return records;
}

struct Personality {
  std::string sim_kind;
  llmbench::v1::EngineKind kind;
  llmbench::v1::Api api;
};

class MultiTurnTest : public ::testing::TestWithParam<Personality> {};

TEST_P(MultiTurnTest, EveryTurnCarriesTheEnginesActualReplies) {
  std::unique_ptr<SimProcess> sim = StartSim();
  ASSERT_NE(sim, nullptr);
  const Personality& p = GetParam();
  uint64_t connections = 0;
  const std::vector<RequestRecord> records =
      RunShard(MultiTurnShard(sim->BaseUrl(p.sim_kind), p.kind, p.api, 4, 3, 2, 0), &connections);
  ASSERT_EQ(records.size(), 12u);
  std::map<uint64_t, std::vector<const RequestRecord*>> by_session;
  for (const RequestRecord& r : records) {
    ASSERT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE) << r.error_message();
    ASSERT_TRUE(r.has_session_id());
    ASSERT_TRUE(r.has_turn_index());
    EXPECT_EQ(r.request_id(), wire::TurnRequestId(r.session_id(), r.turn_index()));
    EXPECT_EQ(r.session_end(), r.turn_index() == 2);
    EXPECT_TRUE(r.reply_text().empty()) << "outputs.text was not asked for";
    by_session[r.session_id()].push_back(&r);
  }
  ASSERT_EQ(by_session.size(), 4u);
  for (auto& [id, turns] : by_session) {
    ASSERT_EQ(turns.size(), 3u);
    std::sort(turns.begin(), turns.end(), [](const RequestRecord* a, const RequestRecord* b) {
      return a->turn_index() < b->turn_index();
    });
    for (uint32_t t = 0; t < 3; ++t) {
      EXPECT_EQ(turns[t]->turn_index(), t);
      ASSERT_TRUE(turns[t]->has_input_tokens());
      if (t > 0) {
        // In order, after the previous reply; the input grows with the history.
        EXPECT_GE(turns[t]->sent_ns(), turns[t - 1]->end_ns());
        EXPECT_GT(turns[t]->input_tokens(), turns[t - 1]->input_tokens() + 5);
      }
    }
  }
  // The sim saw every history: 4 sessions x (0 + 1 + 2) assistant messages, each exactly a
  // reply it generated; the longest request had 3 user + 2 assistant messages.
  EXPECT_EQ(SimMetric(*sim, p.sim_kind, "llmbench_sim_chat_requests_total"), 12);
  EXPECT_EQ(SimMetric(*sim, p.sim_kind, "llmbench_sim_chat_history_requests_total"), 8);
  EXPECT_EQ(SimMetric(*sim, p.sim_kind, "llmbench_sim_chat_assistant_messages_total"), 12);
  EXPECT_EQ(SimMetric(*sim, p.sim_kind, "llmbench_sim_chat_assistant_replies_matched_total"), 12);
  EXPECT_EQ(SimMetric(*sim, p.sim_kind, "llmbench_sim_chat_max_messages"), 5);
  // Keep-alive: the turns reuse the loop's connections (2 slots), none per turn.
  EXPECT_LE(connections, 2u);
}

INSTANTIATE_TEST_SUITE_P(Chat, MultiTurnTest,
                         ::testing::Values(Personality{"vllm", llmbench::v1::ENGINE_KIND_VLLM,
                                                       llmbench::v1::API_CHAT_COMPLETIONS},
                                           Personality{"ollama", llmbench::v1::ENGINE_KIND_OLLAMA,
                                                       llmbench::v1::API_OLLAMA_CHAT}),
                         [](const ::testing::TestParamInfo<Personality>& param_info) {
                           return param_info.param.sim_kind;
                         });

TEST(MultiTurnRunnerTest, ThinkTimeIsWaitedBetweenAReplyAndTheNextTurn) {
  std::unique_ptr<SimProcess> sim = StartSim();
  ASSERT_NE(sim, nullptr);
  const std::vector<RequestRecord> records =
      RunShard(MultiTurnShard(sim->BaseUrl("vllm"), llmbench::v1::ENGINE_KIND_VLLM,
                              llmbench::v1::API_CHAT_COMPLETIONS, 1, 3, 1, 150));
  ASSERT_EQ(records.size(), 3u);
  for (uint32_t t = 1; t < 3; ++t) {
    const int64_t gap = records[t].sent_ns() - records[t - 1].end_ns();
    EXPECT_GE(gap, 150'000'000) << t;
    EXPECT_LT(gap, 400'000'000) << t;
  }
}

TEST(MultiTurnRunnerTest, AFailedTurnEndsItsSession) {
  // Nothing listens on port 1: every first turn fails, and no later turn is sent.
  const std::vector<RequestRecord> records =
      RunShard(MultiTurnShard("http://127.0.0.1:1", llmbench::v1::ENGINE_KIND_VLLM,
                              llmbench::v1::API_CHAT_COMPLETIONS, 3, 3, 1, 0));
  ASSERT_EQ(records.size(), 3u);
  for (const RequestRecord& r : records) {
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_CONNECT);
    EXPECT_EQ(r.turn_index(), 0u);
    EXPECT_TRUE(r.session_end());
  }
}

// The most intervals [begin, end) open at one instant.
size_t MostOpen(std::vector<std::pair<int64_t, int64_t>> intervals) {
  std::vector<std::pair<int64_t, int>> edges;
  for (const auto& [begin, end] : intervals) {
    edges.emplace_back(begin, 1);
    edges.emplace_back(end, -1);
  }
  std::sort(edges.begin(), edges.end());  // an end sorts before a begin at the same instant
  int open = 0;
  int most = 0;
  for (const auto& [t, step] : edges) most = std::max(most, open += step);
  return static_cast<size_t>(most);
}

// Requests in flight and sessions in progress (first turn sent to last turn ended), at most.
struct Overlap {
  size_t requests = 0;
  size_t sessions = 0;
};
Overlap MostInProgress(const std::vector<RequestRecord>& records) {
  std::vector<std::pair<int64_t, int64_t>> requests;
  std::map<uint64_t, std::pair<int64_t, int64_t>> sessions;
  for (const RequestRecord& r : records) {
    requests.emplace_back(r.sent_ns(), r.end_ns());
    auto [it, added] = sessions.emplace(r.session_id(), std::make_pair(r.sent_ns(), r.end_ns()));
    if (!added) {
      it->second.first = std::min(it->second.first, r.sent_ns());
      it->second.second = std::max(it->second.second, r.end_ns());
    }
  }
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const auto& [id, span] : sessions) spans.push_back(span);
  return {MostOpen(requests), MostOpen(spans)};
}

// Every session ran all its turns in order, each after the previous reply ended.
void ExpectWholeSessions(const std::vector<RequestRecord>& records, size_t sessions,
                         uint32_t turns) {
  std::map<uint64_t, std::vector<const RequestRecord*>> by_session;
  for (const RequestRecord& r : records) {
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE) << r.error_message();
    by_session[r.session_id()].push_back(&r);
  }
  ASSERT_EQ(by_session.size(), sessions);
  for (auto& [id, list] : by_session) {
    ASSERT_EQ(list.size(), turns) << "session " << id;
    std::sort(list.begin(), list.end(), [](const RequestRecord* a, const RequestRecord* b) {
      return a->turn_index() < b->turn_index();
    });
    for (uint32_t t = 1; t < turns; ++t) {
      EXPECT_EQ(list[t]->turn_index(), t);
      EXPECT_GE(list[t]->sent_ns(), list[t - 1]->end_ns()) << "session " << id << " turn " << t;
    }
  }
}

// Closed loop with think times: load unit sessions holds a slot through a session's think
// times (never more than `concurrency` sessions in progress); load unit requests counts turns in
// flight, so a slot freed by a thinking session starts another (more sessions than slots).
TEST(MultiTurnRunnerTest, ClosedLoopLoadUnitChoosesWhatConcurrencyCounts) {
  std::unique_ptr<SimProcess> sim = StartSim();
  ASSERT_NE(sim, nullptr);
  Shard shard = MultiTurnShard(sim->BaseUrl("vllm"), llmbench::v1::ENGINE_KIND_VLLM,
                               llmbench::v1::API_CHAT_COMPLETIONS, 6, 3, 2, 80);
  const std::vector<RequestRecord> by_sessions = RunShard(shard);
  ASSERT_EQ(by_sessions.size(), 18u);
  ExpectWholeSessions(by_sessions, 6, 3);
  const Overlap sessions_unit = MostInProgress(by_sessions);
  EXPECT_LE(sessions_unit.sessions, 2u);
  EXPECT_LE(sessions_unit.requests, 2u);

  shard.mutable_multi_turn()->set_load_unit(llmbench::v1::LOAD_UNIT_REQUESTS);
  const std::vector<RequestRecord> by_requests = RunShard(shard);
  ASSERT_EQ(by_requests.size(), 18u);
  ExpectWholeSessions(by_requests, 6, 3);
  const Overlap requests_unit = MostInProgress(by_requests);
  EXPECT_LE(requests_unit.requests, 2u);
  // A reply takes ~10 ms and a think 80 ms: the free slots start new sessions meanwhile.
  EXPECT_GT(requests_unit.sessions, 2u);
}

// Open loop, load unit sessions: sessions start at the rate (20/s, constant: 0, 50, 100, 150
// ms), each later turn follows its own reply, unscheduled.
TEST(MultiTurnRunnerTest, OpenLoopSessionsStartAtTheRate) {
  std::unique_ptr<SimProcess> sim = StartSim();
  ASSERT_NE(sim, nullptr);
  Shard shard = MultiTurnShard(sim->BaseUrl("vllm"), llmbench::v1::ENGINE_KIND_VLLM,
                               llmbench::v1::API_CHAT_COMPLETIONS, 4, 2, 1, 0);
  shard.mutable_load()->mutable_rate()->set_rps(20);
  const std::vector<RequestRecord> records = RunShard(shard);
  ASSERT_EQ(records.size(), 8u);
  ExpectWholeSessions(records, 4, 2);
  std::vector<int64_t> starts;
  for (const RequestRecord& r : records) {
    if (r.turn_index() == 0) {
      ASSERT_TRUE(r.has_scheduled_ns());
      starts.push_back(r.scheduled_ns());
      EXPECT_GE(r.sent_ns(), r.scheduled_ns());
    } else {
      EXPECT_FALSE(r.has_scheduled_ns()) << "a later turn follows its reply, not the schedule";
    }
  }
  std::sort(starts.begin(), starts.end());
  ASSERT_EQ(starts.size(), 4u);
  for (size_t i = 0; i < starts.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(starts[i]), static_cast<double>(i) * 50e6, 1e3) << i;
  }
}

// Open loop, load unit requests: each arrival (20/s) sends one turn, the oldest ready one, else
// a new session's first: 3 sessions of 3 turns are 9 arrivals 50 ms apart, and a later turn goes
// out at the first arrival after its previous reply.
TEST(MultiTurnRunnerTest, OpenLoopRequestsUnitSendsOneTurnPerArrival) {
  std::unique_ptr<SimProcess> sim = StartSim();
  ASSERT_NE(sim, nullptr);
  Shard shard = MultiTurnShard(sim->BaseUrl("vllm"), llmbench::v1::ENGINE_KIND_VLLM,
                               llmbench::v1::API_CHAT_COMPLETIONS, 3, 3, 1, 0);
  shard.mutable_load()->mutable_rate()->set_rps(20);
  shard.mutable_multi_turn()->set_load_unit(llmbench::v1::LOAD_UNIT_REQUESTS);
  std::vector<RequestRecord> records = RunShard(shard);
  ASSERT_EQ(records.size(), 9u);
  ExpectWholeSessions(records, 3, 3);
  std::sort(records.begin(), records.end(), [](const RequestRecord& a, const RequestRecord& b) {
    return a.scheduled_ns() < b.scheduled_ns();
  });
  std::map<uint64_t, int64_t> last_end;
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_TRUE(records[i].has_scheduled_ns()) << i;
    EXPECT_NEAR(static_cast<double>(records[i].scheduled_ns()), static_cast<double>(i) * 50e6,
                1e3)
        << "arrival " << i;
    auto it = last_end.find(records[i].session_id());
    if (it != last_end.end()) {
      EXPECT_GE(records[i].scheduled_ns(), it->second) << "sent only once its turn was ready";
    }
    last_end[records[i].session_id()] = records[i].end_ns();
  }
}

TEST(MultiTurnRunnerTest, ACompletionRouteIsRefused) {
  Shard shard = MultiTurnShard("http://127.0.0.1:1", llmbench::v1::ENGINE_KIND_VLLM,
                               llmbench::v1::API_COMPLETIONS, 1, 2, 1, 0);
  auto runner = ShardRunner::Create(shard, ShardRunnerOptions());
  ASSERT_FALSE(runner.ok());
  EXPECT_EQ(runner.status().message(),
            "shard.multi_turn: multi-turn sessions need a chat route (engine.api "
            "chat_completions or ollama_chat)");
}

}  // namespace
}  // namespace llmbench::worker
