#include "worker/shard_runner.h"

#include "common/clock.h"
#include "gtest/gtest.h"

namespace llmbench::worker {
namespace {

constexpr int64_t kUnixOffsetNs = 1'700'000'000'000'000'000;

TEST(StartInstantTest, AStartAheadBeginsThatMuchLaterOnTheMonotonicClock) {
  FakeClock clock(/*start_ns=*/5'000, kUnixOffsetNs);
  const int64_t start_unix_ns = clock.UnixNowNs() + 250'000'000;
  EXPECT_EQ(StartInstantNs(clock, start_unix_ns), 5'000 + 250'000'000);
  clock.AdvanceNs(100'000'000);  // the same agreed instant, asked later: the same epoch
  EXPECT_EQ(StartInstantNs(clock, start_unix_ns), 5'000 + 250'000'000);
}

TEST(StartInstantTest, ALateOrUnsetStartBeginsNow) {
  FakeClock clock(/*start_ns=*/7'000, kUnixOffsetNs);
  EXPECT_EQ(StartInstantNs(clock, clock.UnixNowNs()), 7'000);
  EXPECT_EQ(StartInstantNs(clock, clock.UnixNowNs() - 1'000'000), 7'000);
  EXPECT_EQ(StartInstantNs(clock, 0), 7'000);
}

}  // namespace
}  // namespace llmbench::worker
