#include "coordinator/multi_turn.h"

#include <string>
#include <vector>

#include "coordinator/prompts.h"
#include "coordinator/record_check.h"
#include "coordinator/scenario_loader.h"
#include "coordinator/sharding.h"
#include "coordinator/turn_aggregate.h"
#include "gtest/gtest.h"
#include "proto/wire/session_ids.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

v1::RequestRecord Turn(uint64_t session, uint32_t turn, int64_t sent_ms, int64_t ttft_ms,
                       int64_t end_ms, uint32_t input, bool ok, bool end) {
  v1::RequestRecord r;
  r.set_engine("vllm");
  r.set_request_id(wire::TurnRequestId(session, turn));
  r.set_session_id(session);
  r.set_turn_index(turn);
  r.set_sent_ns(sent_ms * 1'000'000);
  r.set_end_ns(end_ms * 1'000'000);
  r.set_session_end(end);
  if (ok) {
    r.set_first_token_ns((sent_ms + ttft_ms) * 1'000'000);
    r.set_input_tokens(input);
    r.set_output_tokens(4);
  } else {
    r.set_error_class(v1::ERROR_CLASS_HTTP_5XX);
  }
  return r;
}

TEST(TurnAggregatorTest, PerTurnIndexAndSessionTotals) {
  TurnAggregator agg;
  // Session 0: two turns, completed. Session 1: turn 0 ok, turn 1 failed. Session 2: turn 0
  // only (interrupted).
  agg.Add(Turn(0, 0, 0, 10, 100, 20, true, false));
  agg.Add(Turn(0, 1, 200, 30, 300, 50, true, true));
  agg.Add(Turn(1, 0, 0, 20, 100, 22, true, false));
  agg.Add(Turn(1, 1, 150, 0, 160, 0, false, true));
  agg.Add(Turn(2, 0, 0, 12, 90, 21, true, false));
  std::optional<v1::MultiTurnReport> r = agg.Report("vllm");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(agg.Report("other").has_value());
  EXPECT_EQ(r->sessions_started(), 3u);
  EXPECT_EQ(r->sessions_completed(), 1u);
  EXPECT_EQ(r->sessions_failed(), 1u);
  EXPECT_EQ(r->sessions_interrupted(), 1u);
  EXPECT_EQ(r->session_duration_ms().count(), 1u);
  EXPECT_DOUBLE_EQ(r->session_duration_ms().max(), 300);
  ASSERT_EQ(r->turns_size(), 2);
  EXPECT_EQ(r->turns(0).requests(), 3u);
  EXPECT_EQ(r->turns(0).successes(), 3u);
  EXPECT_DOUBLE_EQ(r->turns(0).ttft_ms().p50(), 12);
  EXPECT_DOUBLE_EQ(r->turns(0).input_tokens().max(), 22);
  EXPECT_EQ(r->turns(1).requests(), 2u);
  EXPECT_EQ(r->turns(1).successes(), 1u);
  EXPECT_DOUBLE_EQ(r->turns(1).ttft_ms().p50(), 30);
  EXPECT_DOUBLE_EQ(r->turns(1).input_tokens().p50(), 50);
}

TEST(MultiTurnFlagsTest, ThinkTimeAndLoadUnit) {
  auto fixed = ParseThinkTime("500ms");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->mean(), 500u);
  EXPECT_EQ(ParseThinkTime("1.5s")->mean(), 1500u);
  EXPECT_EQ(ParseThinkTime("uniform:100:300")->max(), 300u);
  EXPECT_EQ(ParseThinkTime("soon").status().message(),
            "--think-time: expected a time such as 500ms or 2s (at most 1 hour), or fixed:MS, "
            "uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX], lognormal:MEAN:SIGMA[:MIN:MAX] in ms, "
            "got \"soon\"");
  EXPECT_EQ(*ParseLoadUnit("Requests"), v1::LOAD_UNIT_REQUESTS);
  EXPECT_EQ(ParseLoadUnit("turns").status().message(),
            "--load-unit: expected sessions or requests, got \"turns\"");
}

TEST(MultiTurnFlagsTest, RequestsBecomeSessions) {
  v1::Scenario s;
  s.mutable_load()->set_requests(100);
  MultiTurnFlags flags;
  flags.turns = "3";
  flags.think_time = "250ms";
  ASSERT_TRUE(flags.Apply(&s).ok());
  EXPECT_EQ(s.prompts().multi_turn().turns(), 3u);
  EXPECT_EQ(s.prompts().multi_turn().think_time_ms().mean(), 250u);
  EXPECT_FALSE(s.load().has_requests());
  EXPECT_EQ(s.load().sessions(), 34u);
  MultiTurnFlags alone;
  alone.load_unit = "requests";
  EXPECT_EQ(alone.Apply(&s).message(),
            "--load-unit: needs --turns (multi-turn sessions), got \"requests\"");
}

TEST(MultiTurnScenarioTest, CompletionRouteIsAnErrorAndDefaultsApply) {
  auto bad = ParseScenarioYaml(
      "engines: [{kind: ollama, base_url: 'http://h:1', model: m}]\n"
      "prompts: {multi_turn: {turns: 3}}\n",
      "s.yaml", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message())
                .find("engines[0].api: prompts.multi_turn needs the chat route (chat_completions "
                      "or ollama_chat), got ollama_generate"),
            std::string::npos)
      << bad.status();
  auto ok = ParseScenarioYaml(
      "engines: [{kind: vllm, base_url: 'http://h:1', model: m}]\n"
      "prompts: {multi_turn: {}}\nload: {concurrency: 2, load_unit: requests}\n",
      "s.yaml", "");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->prompts().multi_turn().turns(), 2u);
  EXPECT_EQ(ok->load().sessions(), kDefaultSessions);
  EXPECT_FALSE(ok->load().has_requests());
  auto requests = ParseScenarioYaml(
      "engines: [{kind: vllm, base_url: 'http://h:1', model: m}]\n"
      "prompts: {multi_turn: {turns: 2}}\nload: {requests: 10}\n",
      "s.yaml", "");
  ASSERT_FALSE(requests.ok());
  EXPECT_NE(std::string(requests.status().message()).find("load.requests: with prompts.multi_turn"),
            std::string::npos)
      << requests.status();

  // Prompts: every session has its later turns and think times; shards split sessions whole.
  v1::Scenario s = *ok;
  s.mutable_prompts()->mutable_multi_turn()->set_turns(3);
  s.mutable_prompts()->mutable_multi_turn()->mutable_think_time_ms()->set_mean(100);
  s.mutable_load()->set_sessions(7);
  auto prompts = BuildPrompts(s.prompts(), 1, "");
  ASSERT_TRUE(prompts.ok()) << prompts.status();
  ASSERT_FALSE(prompts->empty());
  EXPECT_EQ((*prompts)[0].next_turns_size(), 2);
  EXPECT_EQ((*prompts)[0].think_ms_size(), 2);
  EXPECT_EQ((*prompts)[0].think_ms(0), 100u);
  auto shards = MakeShards(s, 0, *prompts, 3, "run", 0);
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 2u) << "concurrency 2 keeps two workers";
  uint64_t sessions = 0;
  for (const v1::Shard& shard : *shards) {
    ASSERT_TRUE(shard.has_multi_turn());
    EXPECT_EQ(shard.multi_turn().load_unit(), v1::LOAD_UNIT_REQUESTS);
    for (const v1::IdRange& r : shard.request_ranges()) sessions += r.count();
  }
  EXPECT_EQ(sessions, 7u);
  // A turn record of session 0 belongs to shard 0; a made-up request id does not.
  const wire::ShardIds ids((*shards)[0]);
  v1::RequestRecord r = Turn(0, 1, 0, 1, 2, 5, true, false);
  r.set_engine((*shards)[0].engine().name());
  EXPECT_EQ(RecordProblem(r, (*shards)[0], ids, 10'000'000'000), "");
  r.set_request_id(5000);
  EXPECT_EQ(RecordProblem(r, (*shards)[0], ids, 10'000'000'000),
            "request 5000: not a turn of a multi-turn session of shard 0");
}

}  // namespace
}  // namespace llmbench::coordinator
