#include "coordinator/trace_plan.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "coordinator/sharding.h"
#include "coordinator/trace_file.h"
#include "gtest/gtest.h"
#include "proto/wire/shard_ids.h"
#include "proto/wire/trace_schedule.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

TraceFile Parse(const std::string& content) {
  absl::StatusOr<TraceFile> trace = ParseTrace(content, "t.jsonl", v1::TRACE_FORMAT_AUTO);
  EXPECT_TRUE(trace.ok()) << trace.status();
  return trace.ok() ? *std::move(trace) : TraceFile{};
}

v1::Scenario TraceScenario() {
  v1::Scenario s;
  s.add_engines()->set_name("sim");
  s.mutable_engines(0)->set_base_url("http://127.0.0.1:1");
  s.mutable_generation()->set_max_tokens(16);
  s.set_seed(7);
  s.mutable_load()->mutable_trace()->set_file("t.jsonl");
  return s;
}

// Mooncake entries at the given ms, input 600, output 5, no hash ids.
std::string Mooncake(const std::vector<int>& ms) {
  std::string out;
  for (int t : ms) {
    absl::StrAppend(&out, "{\"timestamp\":", t, ",\"input_length\":600,\"output_length\":5}\n");
  }
  return out;
}

std::vector<std::string> Words(const std::string& text) {
  return absl::StrSplit(text, ' ', absl::SkipEmpty());
}

TEST(TracePlanTest, OffsetsFromFirstTimestampWithSpeedupAndWindow) {
  v1::Scenario s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_speedup(2);
  s.mutable_load()->mutable_trace()->set_start_seconds(1);
  s.mutable_load()->mutable_trace()->set_end_seconds(3);
  absl::StatusOr<TracePlan> plan =
      PlanTraceFile(s, Parse(Mooncake({1000, 1500, 2000, 3000, 4000, 6000})), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  // Window [1 s, 3 s) after the first timestamp (1000 ms): 2000, 3000 ms.
  ASSERT_EQ(plan->prompts.prompts.size(), 2u);
  EXPECT_EQ(plan->prompts.prompts[0].trace_offset_ns(), 0);
  EXPECT_EQ(plan->prompts.prompts[1].trace_offset_ns(), 500'000'000);
  EXPECT_EQ(plan->requests, 2u);
  EXPECT_EQ(plan->period_ns, 1'000'000'000);  // (3 - 1) s / 2
  EXPECT_EQ(plan->info.window_entries(), 2u);
  EXPECT_EQ(plan->info.file_entries(), 6u);
  EXPECT_DOUBLE_EQ(plan->info.schedule_seconds(), 0.5);
  EXPECT_DOUBLE_EQ(plan->info.window_seconds(), 1.0);
  EXPECT_EQ(plan->info.format(), "mooncake");
  EXPECT_EQ(plan->prompts.prompts[0].max_tokens(), 5u);
  EXPECT_EQ(plan->prompts.prompts[0].approx_tokens(), 600u);
  EXPECT_EQ(Words(plan->prompts.prompts[0].text()).size(), 600u);
}

TEST(TracePlanTest, EmptyWindowAndBadOptionsAreErrors) {
  v1::Scenario s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_start_seconds(10);
  absl::StatusOr<TracePlan> plan = PlanTraceFile(s, Parse(Mooncake({0, 2000})), "t.jsonl");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "load.trace: no entry of t.jsonl lies between start_seconds 10 and end_seconds "
            "(none) (its entries span 2 s from the first timestamp)");
  s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_speedup(0);
  plan = PlanTraceFile(s, Parse(Mooncake({0})), "t.jsonl");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(), "load.trace.speedup: must be > 0 and <= 1000000, got 0");
  s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_start_seconds(2);
  s.mutable_load()->mutable_trace()->set_end_seconds(1);
  plan = PlanTraceFile(s, Parse(Mooncake({0})), "t.jsonl");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(), "load.trace.end_seconds: must be > start_seconds (2), got 1");
  s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_loop(true);
  plan = PlanTraceFile(s, Parse(Mooncake({0, 10})), "t.jsonl");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "load.trace.loop: needs load.duration_seconds or load.requests to end the replay");
  s = TraceScenario();
  s.mutable_load()->set_duration_seconds(0.5);
  s.mutable_load()->mutable_trace()->set_start_seconds(1);
  plan = PlanTraceFile(s, Parse(Mooncake({0, 2000})), "t.jsonl");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "load.duration_seconds: no trace request is scheduled before 0.5 s (the window's "
            "first request is at 1 s)");
}

TEST(TracePlanTest, RequestsAndDurationCutTheReplay) {
  v1::Scenario s = TraceScenario();
  s.mutable_load()->set_requests(3);
  absl::StatusOr<TracePlan> plan =
      PlanTraceFile(s, Parse(Mooncake({0, 100, 200, 300, 400})), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->requests, 3u);
  s = TraceScenario();
  s.mutable_load()->set_duration_seconds(0.25);
  plan = PlanTraceFile(s, Parse(Mooncake({0, 100, 200, 300, 400})), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->requests, 3u);  // 0, 100, 200 ms
}

TEST(TracePlanTest, LoopRepeatsTheWindowEveryPeriod) {
  v1::Scenario s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_loop(true);
  s.mutable_load()->set_duration_seconds(1.0);
  // Span 300 ms over 4 entries: period = 300 + 100 (mean gap) = 400 ms.
  absl::StatusOr<TracePlan> plan = PlanTraceFile(s, Parse(Mooncake({0, 100, 200, 300})), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->period_ns, 400'000'000);
  // 0..300, 400..700, 800, 900 ms: 10 requests before 1 s.
  EXPECT_EQ(plan->requests, 10u);
  EXPECT_EQ(plan->info.repetitions(), 3u);
  EXPECT_DOUBLE_EQ(plan->info.schedule_seconds(), 0.9);
  // With an end offset the period is the window: [0, 0.25 s) holds 0, 100, 200 ms.
  s.mutable_load()->mutable_trace()->set_end_seconds(0.25);
  plan = PlanTraceFile(s, Parse(Mooncake({0, 100, 200, 300})), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->period_ns, 250'000'000);
  EXPECT_EQ(plan->requests, 12u);  // 4 repetitions of 3
  // Requests cap the loop.
  s.mutable_load()->set_requests(5);
  plan = PlanTraceFile(s, Parse(Mooncake({0, 100, 200, 300})), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->requests, 5u);
}

TEST(TracePlanTest, LoopOverTheLimitIsAnError) {
  v1::Scenario s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_loop(true);
  s.mutable_load()->set_duration_seconds(30 * 24 * 3600.0);
  absl::StatusOr<TracePlan> plan = PlanTraceFile(s, Parse(Mooncake({0, 1})), "t.jsonl");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "load.trace: more than 1000000 requests planned, the limit for a trace replay "
            "(shorten load.duration_seconds or set load.requests)");
}

TEST(TracePlanTest, EqualHashIdsGiveEqualPromptBlocks) {
  const std::string trace =
      "{\"timestamp\":0,\"input_length\":1100,\"output_length\":4,\"hash_ids\":[1,2,3]}\n"
      "{\"timestamp\":1,\"input_length\":1024,\"output_length\":4,\"hash_ids\":[1,2]}\n"
      "{\"timestamp\":2,\"input_length\":700,\"output_length\":4,\"hash_ids\":[1,9]}\n"
      "{\"timestamp\":3,\"input_length\":600,\"output_length\":4,\"hash_ids\":[5]}\n"
      "{\"timestamp\":4,\"input_length\":300,\"output_length\":4}\n";
  absl::StatusOr<TracePlan> plan = PlanTraceFile(TraceScenario(), Parse(trace), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::vector<std::string>> w;
  for (const v1::Prompt& p : plan->prompts.prompts) w.push_back(Words(p.text()));
  ASSERT_EQ(w[0].size(), 1100u);
  ASSERT_EQ(w[1].size(), 1024u);
  ASSERT_EQ(w[2].size(), 700u);
  ASSERT_EQ(w[3].size(), 600u);
  ASSERT_EQ(w[4].size(), 300u);
  auto same = [&](size_t a, size_t b, size_t from, size_t to) {
    return std::equal(w[a].begin() + from, w[a].begin() + to, w[b].begin() + from);
  };
  EXPECT_TRUE(same(0, 1, 0, 1024));    // blocks 1, 2
  EXPECT_TRUE(same(0, 2, 0, 512));     // block 1
  EXPECT_FALSE(same(0, 2, 512, 700));  // block 3 vs 9
  EXPECT_FALSE(same(0, 3, 0, 512));    // block 1 vs 5
  // Text prefixes, not only words: the first 1024 words are the same bytes.
  const std::string& a = plan->prompts.prompts[0].text();
  const std::string& b = plan->prompts.prompts[1].text();
  EXPECT_EQ(a.substr(0, b.size()), b);
  EXPECT_EQ(plan->info.distinct_blocks(), 5u);  // 1, 2, 3, 9, 5
  EXPECT_EQ(plan->info.reused_blocks(), 3u);    // 1 twice more, 2 once more
  EXPECT_EQ(plan->info.block_tokens(), 512u);
  // Deterministic from the seed; another seed gives other words.
  absl::StatusOr<TracePlan> again = PlanTraceFile(TraceScenario(), Parse(trace), "t.jsonl");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->prompts.prompts[0].text(), a);
  v1::Scenario other = TraceScenario();
  other.set_seed(8);
  absl::StatusOr<TracePlan> reseeded = PlanTraceFile(other, Parse(trace), "t.jsonl");
  ASSERT_TRUE(reseeded.ok());
  EXPECT_NE(reseeded->prompts.prompts[0].text(), a);
}

TEST(TracePlanTest, BlockTokensSetsTheBlockSize) {
  // A trace recorded with 16-token blocks: id k covers words [16k, 16k + 16).
  const std::string trace =
      "{\"timestamp\":0,\"input_length\":40,\"output_length\":4,\"hash_ids\":[1,2,3]}\n"
      "{\"timestamp\":1,\"input_length\":40,\"output_length\":4,\"hash_ids\":[1,2,4]}\n"
      "{\"timestamp\":2,\"input_length\":40,\"output_length\":4,\"hash_ids\":[1,5,3]}\n";
  v1::Scenario scenario = TraceScenario();
  scenario.mutable_load()->mutable_trace()->set_block_tokens(16);
  absl::StatusOr<TracePlan> plan = PlanTraceFile(scenario, Parse(trace), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::vector<std::string>> w;
  for (const v1::Prompt& p : plan->prompts.prompts) w.push_back(Words(p.text()));
  for (const auto& words : w) ASSERT_EQ(words.size(), 40u);
  auto same = [&](size_t a, size_t b, size_t from, size_t to) {
    return std::equal(w[a].begin() + from, w[a].begin() + to, w[b].begin() + from);
  };
  EXPECT_TRUE(same(0, 1, 0, 32));    // blocks 1, 2
  EXPECT_FALSE(same(0, 1, 32, 40));  // block 3 vs 4
  EXPECT_TRUE(same(0, 2, 0, 16));    // block 1
  EXPECT_FALSE(same(0, 2, 16, 32));  // block 2 vs 5
  EXPECT_EQ(plan->info.block_tokens(), 16u);
  EXPECT_EQ(plan->info.distinct_blocks(), 5u);
  // With the default 512, the 40 words are all inside the first block: all three equal there.
  absl::StatusOr<TracePlan> wide = PlanTraceFile(TraceScenario(), Parse(trace), "t.jsonl");
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->prompts.prompts[0].text(), wide->prompts.prompts[2].text());
  EXPECT_EQ(wide->info.block_tokens(), 512u);
}

TEST(TracePlanTest, PlainPromptsAndMaxTokens) {
  v1::Scenario s = TraceScenario();
  s.mutable_prompts()->set_system_prompt("be brief");
  absl::StatusOr<TracePlan> plan =
      PlanTraceFile(s,
                    Parse("{\"timestamp\":0,\"prompt\":\"one two three\",\"max_tokens\":7}\n"
                          "{\"timestamp\":50,\"prompt\":\"four\"}\n"),
                    "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->prompts.prompts[0].text(), "one two three");
  EXPECT_EQ(plan->prompts.prompts[0].approx_tokens(), 3u);
  EXPECT_EQ(plan->prompts.prompts[0].max_tokens(), 7u);
  EXPECT_EQ(plan->prompts.prompts[0].system(), "be brief");
  EXPECT_FALSE(plan->prompts.prompts[1].has_max_tokens());
  EXPECT_EQ(plan->prompts.prompts[1].trace_offset_ns(), 50'000'000);
  EXPECT_DOUBLE_EQ(plan->info.output_tokens_mean(), (7 + 16) / 2.0);
  EXPECT_EQ(plan->info.format(), "plain");
  EXPECT_EQ(plan->info.block_tokens(), 0u);
}

// Every planned request is in exactly one shard, at its absolute time, in time order.
TEST(TraceShardingTest, ShardsKeepAbsoluteTimes) {
  for (uint32_t workers : {1u, 2u, 3u, 7u}) {
    for (bool loop : {false, true}) {
      v1::Scenario s = TraceScenario();
      if (loop) {
        s.mutable_load()->mutable_trace()->set_loop(true);
        s.mutable_load()->set_duration_seconds(2.0);
      }
      absl::StatusOr<TracePlan> plan =
          PlanTraceFile(s, Parse(Mooncake({0, 0, 30, 100, 250, 400, 410})), "t.jsonl");
      ASSERT_TRUE(plan.ok()) << plan.status();
      absl::StatusOr<std::vector<v1::Shard>> shards =
          MakeShards(s, 0, plan->prompts.prompts, workers, "run", 0);
      ASSERT_TRUE(shards.ok()) << shards.status();
      EXPECT_EQ(shards->size(), std::min<size_t>(workers, 7));
      std::map<uint64_t, int64_t> seen;
      for (const v1::Shard& shard : *shards) {
        ASSERT_TRUE(shard.load().has_trace());
        EXPECT_EQ(shard.prompts_size(), 7);
        const wire::ShardIds ids(shard);
        ASSERT_TRUE(wire::CheckTraceShard(shard, ids).ok())
            << wire::CheckTraceShard(shard, ids);
        wire::TraceSchedule schedule(shard, ids);
        for (uint64_t j = 0; j < ids.size(); ++j) {
          const uint64_t id = ids.IdAt(j);
          const int64_t t = schedule.Next();
          const uint64_t n = plan->prompts.prompts.size();
          const int64_t expected = plan->prompts.prompts[id % n].trace_offset_ns() +
                                   static_cast<int64_t>(id / n) * plan->period_ns;
          EXPECT_EQ(t, expected) << "id " << id;
          EXPECT_TRUE(seen.emplace(id, t).second) << "id " << id << " in two shards";
          EXPECT_EQ(shard.prompts(static_cast<int>(id % n)).text(),
                    plan->prompts.prompts[id % n].text());
        }
      }
      EXPECT_EQ(seen.size(), plan->requests);
      EXPECT_EQ(seen.rbegin()->first, plan->requests - 1);
    }
  }
}

// A failed worker's unfinished trace requests, reassigned, keep their absolute times.
TEST(TraceShardingTest, ReassignedRequestsKeepTheirTimes) {
  v1::Scenario s = TraceScenario();
  s.mutable_load()->mutable_trace()->set_loop(true);
  s.mutable_load()->set_requests(20);
  absl::StatusOr<TracePlan> plan =
      PlanTraceFile(s, Parse(Mooncake({0, 10, 40, 90, 160})), "t.jsonl");
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<std::vector<v1::Shard>> shards =
      MakeShards(s, 0, plan->prompts.prompts, 2, "run", 0);
  ASSERT_TRUE(shards.ok()) << shards.status();
  const v1::Shard& failed = (*shards)[1];
  std::vector<v1::IdRange> unfinished;
  for (int i = 2; i < failed.request_ids_size(); ++i) {
    unfinished.emplace_back();
    unfinished.back().set_first(failed.request_ids(i));
    unfinished.back().set_count(1);
  }
  absl::StatusOr<std::vector<v1::Shard>> reassigned =
      ReassignRequests(unfinished, failed, 3, 2, 0);
  ASSERT_TRUE(reassigned.ok()) << reassigned.status();
  size_t count = 0;
  for (const v1::Shard& shard : *reassigned) {
    const wire::ShardIds ids(shard);
    ASSERT_TRUE(wire::CheckTraceShard(shard, ids).ok()) << wire::CheckTraceShard(shard, ids);
    wire::TraceSchedule schedule(shard, ids);
    for (uint64_t j = 0; j < ids.size(); ++j, ++count) {
      EXPECT_EQ(schedule.Next(), wire::TraceSchedule::TimeOf(failed, ids.IdAt(j)));
    }
  }
  EXPECT_EQ(count, unfinished.size());
}

TEST(TraceShardingTest, WeightsSplitProportionally) {
  v1::Scenario s = TraceScenario();
  absl::StatusOr<TracePlan> plan =
      PlanTraceFile(s, Parse(Mooncake({0, 1, 2, 3, 4, 5, 6, 7, 8})), "t.jsonl");
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<std::vector<v1::Shard>> shards =
      MakeShards(s, 0, plan->prompts.prompts, 2, "run", 0, {1.0, 2.0});
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 2u);
  EXPECT_EQ((*shards)[0].request_ids_size(), 3);
  EXPECT_EQ((*shards)[1].request_ids_size(), 6);
}

TEST(TraceShardingTest, WarmupIsRefused) {
  v1::Scenario s = TraceScenario();
  s.mutable_load()->set_warmup_requests(2);
  absl::StatusOr<TracePlan> plan = PlanTraceFile(s, Parse(Mooncake({0, 1})), "t.jsonl");
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<std::vector<v1::Shard>> shards =
      MakeShards(s, 0, plan->prompts.prompts, 2, "run", 0);
  ASSERT_FALSE(shards.ok());
  EXPECT_EQ(shards.status().message(),
            "load.trace: a trace replays as recorded; warmup_requests and warmup_seconds do not "
            "apply");
}

}  // namespace
}  // namespace llmbench::coordinator
