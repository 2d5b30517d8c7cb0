#include "sim/batch_scheduler.h"

#include <gtest/gtest.h>

namespace llmbench::sim {
namespace {

constexpr int64_t kMs = 1'000'000;

LatencyParams Params(int max_batch = 256) {
  LatencyParams p;
  p.ttft_base_ms = 20;
  p.ttft_per_token_us = 50;
  p.itl_ms = 10;
  p.itl_per_seq_us = 20;
  p.max_batch = max_batch;
  return p;
}

std::vector<SchedulerEvent> Tokens(const std::vector<SchedulerEvent>& evs, uint64_t seq) {
  std::vector<SchedulerEvent> out;
  for (const auto& e : evs) {
    if (e.kind == SchedulerEvent::Kind::kToken && e.seq == seq) out.push_back(e);
  }
  return out;
}

TEST(BatchSchedulerTest, SingleSequenceTimeline) {
  BatchScheduler s(Params());
  const uint64_t id = s.Submit(0, /*prompt=*/100, /*output=*/3);
  // prefill = 20 ms + 100 * 50 us = 25 ms; step (batch 1) = 10 ms + 20 us.
  EXPECT_EQ(s.NextDeadlineNs(), 25 * kMs);
  std::vector<SchedulerEvent> evs;
  s.AdvanceTo(25 * kMs - 1, evs);
  EXPECT_TRUE(evs.empty());
  s.AdvanceTo(100 * kMs, evs);
  const auto toks = Tokens(evs, id);
  ASSERT_EQ(toks.size(), 3u);
  EXPECT_EQ(toks[0].at_ns, 25 * kMs);
  EXPECT_EQ(toks[1].at_ns, 25 * kMs + 10'020'000);
  EXPECT_EQ(toks[2].at_ns, 25 * kMs + 2 * 10'020'000);
  EXPECT_TRUE(toks[2].last);
  EXPECT_FALSE(toks[1].last);
  EXPECT_EQ(s.running(), 0);
  EXPECT_EQ(s.NextDeadlineNs(), BatchScheduler::kIdle);
}

TEST(BatchSchedulerTest, StepTimeGrowsWithBatch) {
  BatchScheduler s(Params());
  const uint64_t a = s.Submit(0, 1, 3);
  const uint64_t b = s.Submit(0, 1, 3);
  std::vector<SchedulerEvent> evs;
  s.AdvanceTo(1000 * kMs, evs);
  const auto ta = Tokens(evs, a);
  const auto tb = Tokens(evs, b);
  ASSERT_EQ(ta.size(), 3u);
  ASSERT_EQ(tb.size(), 3u);
  // Both prefill in 20.05 ms; steps hold 2 sequences: 10 ms + 2 * 20 us.
  EXPECT_EQ(ta[0].at_ns, 20'050'000);
  EXPECT_EQ(ta[1].at_ns - ta[0].at_ns, 10'040'000);
  EXPECT_EQ(tb[2].at_ns - tb[1].at_ns, 10'040'000);
}

TEST(BatchSchedulerTest, QueuesBeyondMaxBatchFifo) {
  BatchScheduler s(Params(/*max_batch=*/1));
  const uint64_t a = s.Submit(0, 1, 2);
  const uint64_t b = s.Submit(0, 1, 1);
  EXPECT_EQ(s.running(), 1);
  EXPECT_EQ(s.waiting(), 1);
  std::vector<SchedulerEvent> evs;
  s.AdvanceTo(1000 * kMs, evs);
  const auto ta = Tokens(evs, a);
  const auto tb = Tokens(evs, b);
  ASSERT_EQ(ta.size(), 2u);
  ASSERT_EQ(tb.size(), 1u);
  // a: first token at 20.05 ms, last after one 10.02 ms step; b admitted then.
  EXPECT_EQ(ta[1].at_ns, 20'050'000 + 10'020'000);
  EXPECT_EQ(tb[0].admitted_ns, ta[1].at_ns);
  EXPECT_EQ(tb[0].at_ns, ta[1].at_ns + 20'050'000);
  EXPECT_TRUE(tb[0].last);
}

TEST(BatchSchedulerTest, CancelFreesSlotAndDropsTokens) {
  BatchScheduler s(Params(/*max_batch=*/1));
  const uint64_t a = s.Submit(0, 1, 100);
  const uint64_t b = s.Submit(0, 1, 1);
  std::vector<SchedulerEvent> evs;
  s.AdvanceTo(25 * kMs, evs);
  ASSERT_EQ(Tokens(evs, a).size(), 1u);
  s.Cancel(25 * kMs, a);
  EXPECT_EQ(s.waiting(), 0);
  evs.clear();
  s.AdvanceTo(1000 * kMs, evs);
  EXPECT_TRUE(Tokens(evs, a).empty());
  const auto tb = Tokens(evs, b);
  ASSERT_EQ(tb.size(), 1u);
  EXPECT_EQ(tb[0].admitted_ns, 25 * kMs);
}

TEST(BatchSchedulerTest, LateAdvanceCatchesUpWithoutDrift) {
  BatchScheduler s(Params());
  const uint64_t a = s.Submit(0, 1, 5);
  std::vector<SchedulerEvent> evs;
  s.AdvanceTo(30 * kMs, evs);
  s.AdvanceTo(500 * kMs, evs);
  const auto t = Tokens(evs, a);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[4].at_ns, 20'050'000 + 4 * 10'020'000);
}

TEST(BatchSchedulerTest, JitterStaysInBoundsAndIsDeterministic) {
  LatencyParams p = Params();
  p.jitter = 0.1;
  BatchScheduler s1(p), s2(p);
  s1.Submit(0, 1, 50);
  s2.Submit(0, 1, 50);
  std::vector<SchedulerEvent> e1, e2;
  s1.AdvanceTo(10'000 * kMs, e1);
  s2.AdvanceTo(10'000 * kMs, e2);
  ASSERT_EQ(e1.size(), e2.size());
  for (size_t i = 0; i < e1.size(); ++i) {
    EXPECT_EQ(e1[i].at_ns, e2[i].at_ns);
    if (e1[i].kind == SchedulerEvent::Kind::kStep) {
      EXPECT_GE(e1[i].duration_ns, 9'018'000 - 1);
      EXPECT_LE(e1[i].duration_ns, 11'022'000 + 1);
    }
  }
}

// ---- Backpressure (SetStalled) --------------------------------------------------------------

TEST(BatchSchedulerTest, StalledSequenceKeepsItsSlotButGetsNoTokens) {
  BatchScheduler s(Params(/*max_batch=*/2));
  const uint64_t a = s.Submit(0, 1, 100);
  const uint64_t b = s.Submit(0, 1, 100);
  const uint64_t c = s.Submit(0, 1, 1);
  std::vector<SchedulerEvent> evs;
  // Both prefill in 20.05 ms; step 1 (batch 2, 10.04 ms) starts then.
  s.AdvanceTo(20'050'000, evs);
  ASSERT_EQ(Tokens(evs, a).size(), 1u);
  s.SetStalled(20'050'000, a, true);
  EXPECT_EQ(s.stalled(), 1);
  evs.clear();
  s.AdvanceTo(45 * kMs, evs);
  // a was decoding when step 1 started, so it still gets that token (30.09 ms); step 2 holds
  // only b: 10 ms + 1 * 20 us.
  const auto ta = Tokens(evs, a);
  ASSERT_EQ(ta.size(), 1u);
  EXPECT_EQ(ta[0].at_ns, 30'090'000);
  const auto tb = Tokens(evs, b);
  ASSERT_EQ(tb.size(), 2u);
  EXPECT_EQ(tb[1].at_ns, 30'090'000 + 10'020'000);
  std::vector<int> step_batches;
  for (const auto& e : evs) {
    if (e.kind == SchedulerEvent::Kind::kStep) step_batches.push_back(e.batch);
  }
  EXPECT_EQ(step_batches, (std::vector<int>{1, 1}));  // steps 2 and 3 (40.11 ms)
  // The stalled sequence still holds its slot: c keeps waiting.
  EXPECT_EQ(s.running(), 2);
  EXPECT_EQ(s.waiting(), 1);
  EXPECT_TRUE(Tokens(evs, c).empty());
  // Un-stalled at 45 ms, a joins the next step (50.13 ms, batch 2: 10.04 ms).
  s.SetStalled(45 * kMs, a, false);
  EXPECT_EQ(s.stalled(), 0);
  evs.clear();
  s.AdvanceTo(60'170'000, evs);
  const auto ta2 = Tokens(evs, a);
  ASSERT_EQ(ta2.size(), 1u);
  EXPECT_EQ(ta2[0].token_index, 2);
  EXPECT_EQ(ta2[0].at_ns, 50'130'000 + 10'040'000);
}

TEST(BatchSchedulerTest, FullyStalledEngineRunsNoStepsUntilUnstalled) {
  BatchScheduler s(Params());
  const uint64_t a = s.Submit(0, 1, 100);
  std::vector<SchedulerEvent> evs;
  s.AdvanceTo(20'050'000, evs);
  s.SetStalled(20'050'000, a, true);
  s.AdvanceTo(1000 * kMs, evs);
  auto ta = Tokens(evs, a);
  ASSERT_EQ(ta.size(), 2u);  // the first token and the step already running when it stalled
  EXPECT_EQ(ta[1].at_ns, 20'050'000 + 10'020'000);
  EXPECT_EQ(s.NextDeadlineNs(), BatchScheduler::kIdle) << "no step may run for a stalled batch";
  EXPECT_EQ(s.running(), 1);
  s.SetStalled(1000 * kMs, a, false);
  EXPECT_EQ(s.NextDeadlineNs(), 1000 * kMs);
  evs.clear();
  s.AdvanceTo(1010 * kMs + 20'000, evs);
  ta = Tokens(evs, a);
  ASSERT_EQ(ta.size(), 1u);
  EXPECT_EQ(ta[0].token_index, 2);
  EXPECT_EQ(ta[0].at_ns, 1010 * kMs + 20'000);
}

TEST(BatchSchedulerTest, StallIsIdempotentAndCancelOfStalledSequenceClearsIt) {
  BatchScheduler s(Params());
  const uint64_t a = s.Submit(0, 1, 100);
  s.SetStalled(0, a, true);
  s.SetStalled(0, a, true);
  EXPECT_EQ(s.stalled(), 1);
  s.SetStalled(0, /*unknown=*/999, true);
  EXPECT_EQ(s.stalled(), 1);
  s.Cancel(1 * kMs, a);
  EXPECT_EQ(s.stalled(), 0);
  EXPECT_EQ(s.running(), 0);
  s.SetStalled(2 * kMs, a, false);  // gone: ignored
  EXPECT_EQ(s.stalled(), 0);
}

TEST(BatchSchedulerTest, MaxStepEndsDeliversOneStepPerCallWithoutDrift) {
  BatchScheduler s(Params());
  const uint64_t a = s.Submit(0, 1, 5);
  std::vector<SchedulerEvent> evs;
  s.AdvanceTo(500 * kMs, evs, /*max_step_ends=*/1);
  ASSERT_EQ(Tokens(evs, a).size(), 2u);  // the prefill token and one step
  EXPECT_EQ(s.NextDeadlineNs(), 20'050'000 + 2 * 10'020'000);
  int calls = 1;
  while (s.NextDeadlineNs() <= 500 * kMs) {
    s.AdvanceTo(500 * kMs, evs, 1);
    ++calls;
  }
  const auto t = Tokens(evs, a);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(t[4].at_ns, 20'050'000 + 4 * 10'020'000);
  EXPECT_TRUE(t[4].last);
}

}  // namespace
}  // namespace llmbench::sim
