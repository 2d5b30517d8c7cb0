#include "common/status.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/grpc_status.h"

namespace llmbench {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  LLMBENCH_ASSIGN_OR_RETURN(int h, Half(x));
  LLMBENCH_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  LLMBENCH_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status(), absl::InvalidArgumentError("odd"));
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), absl::StatusCode::kInvalidArgument);
}

TEST(StatusTest, GrpcRoundTripKeepsCodeAndMessage) {
  for (int code = 0; code <= 16; ++code) {
    absl::Status s(static_cast<absl::StatusCode>(code), code == 0 ? "" : "msg");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("worker gone")).error_message(), "worker gone");
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(100);
  EXPECT_EQ(clock.NowNs(), 100);
  clock.AdvanceNs(50);
  EXPECT_EQ(clock.NowNs(), 150);
  EXPECT_EQ(clock.UnixNowNs() - clock.NowNs(), 1'700'000'000'000'000'000);
}

TEST(ClockTest, SteadyClockIsMonotonic) {
  const Clock& c = SteadyClock::Get();
  int64_t a = c.NowNs();
  int64_t b = c.NowNs();
  EXPECT_LE(a, b);
  EXPECT_GT(c.UnixNowNs(), 1'600'000'000'000'000'000);
}

}  // namespace
}  // namespace llmbench
