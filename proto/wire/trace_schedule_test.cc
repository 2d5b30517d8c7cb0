#include "proto/wire/trace_schedule.h"

#include <limits>

#include "gtest/gtest.h"
#include "proto/wire/shard_ids.h"

namespace llmbench::wire {
namespace {

namespace v1 = ::llmbench::v1;

// A trace shard of 3 window entries at 0, 10 and 25 ns, period 100 ns, holding `ids`.
v1::Shard TraceShard(const std::vector<uint64_t>& ids) {
  v1::Shard shard;
  for (int64_t t : {0, 10, 25}) {
    v1::Prompt* p = shard.add_prompts();
    p->set_text("x");
    p->set_trace_offset_ns(t);
  }
  shard.mutable_load()->mutable_trace()->set_period_ns(100);
  for (uint64_t id : ids) shard.add_request_ids(id);
  return shard;
}

TEST(TraceScheduleTest, EachIdAtItsOwnTime) {
  const v1::Shard shard = TraceShard({1, 2, 4, 6, 8});
  const ShardIds ids(shard);
  ASSERT_TRUE(CheckTraceShard(shard, ids).ok()) << CheckTraceShard(shard, ids);
  TraceSchedule schedule(shard, ids);
  EXPECT_EQ(schedule.Next(), 10);   // id 1
  EXPECT_EQ(schedule.Next(), 25);   // id 2
  EXPECT_EQ(schedule.Next(), 110);  // id 4: entry 1, repetition 1
  EXPECT_EQ(schedule.Next(), 200);  // id 6: entry 0, repetition 2
  EXPECT_EQ(schedule.Next(), 225);  // id 8
  EXPECT_EQ(schedule.Next(), std::numeric_limits<int64_t>::max());
}

TEST(TraceScheduleTest, TimeSaturates) {
  v1::Shard shard = TraceShard({});
  shard.mutable_load()->mutable_trace()->set_period_ns(std::numeric_limits<int64_t>::max() / 2);
  EXPECT_EQ(TraceSchedule::TimeOf(shard, 3 * 5), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(TraceSchedule::TimeOf(shard, 3), std::numeric_limits<int64_t>::max() / 2);
}

TEST(TraceScheduleTest, CheckTraceShardNamesWhatIsWrong) {
  auto check = [](const v1::Shard& shard) {
    return std::string(CheckTraceShard(shard, ShardIds(shard)).message());
  };
  EXPECT_EQ(check(TraceShard({})),
            "shard.load.trace: a trace shard needs request_ids or request_ranges");
  v1::Shard warm = TraceShard({0});
  warm.set_warmup_requests(1);
  EXPECT_EQ(check(warm), "shard.load.trace: a trace shard has no warm-up");
  v1::Shard period = TraceShard({0});
  period.mutable_load()->mutable_trace()->set_period_ns(0);
  EXPECT_EQ(check(period), "shard.load.trace.period_ns must be > 0, got 0");
  v1::Shard missing = TraceShard({0, 1});
  missing.mutable_prompts(1)->clear_trace_offset_ns();
  EXPECT_EQ(check(missing), "shard.prompts[1].trace_offset_ns must be set and >= 0 (request id 1)");
  EXPECT_EQ(check(TraceShard({2, 1})),
            "shard.load.trace: request id 1 is scheduled at 10 ns, before the shard's previous "
            "request (25 ns): ids must be in time order");
}

}  // namespace
}  // namespace llmbench::wire
