#include "sim/time_format.h"

#include <gtest/gtest.h>

namespace llmbench::sim {
namespace {

TEST(TimeFormatTest, TrimsTrailingZerosOfTheFraction) {
  // 2025-07-07T20:22:19Z = 1751919739 s.
  const int64_t base = 1751919739LL * 1'000'000'000;
  EXPECT_EQ(FormatRfc3339Nano(base + 210'700'000), "2025-07-07T20:22:19.2107Z");
  EXPECT_EQ(FormatRfc3339Nano(base + 989'641'922), "2025-07-07T20:22:19.989641922Z");
  EXPECT_EQ(FormatRfc3339Nano(base), "2025-07-07T20:22:19Z");
  EXPECT_EQ(FormatRfc3339Nano(base + 1), "2025-07-07T20:22:19.000000001Z");
  EXPECT_EQ(FormatRfc3339Nano(951782400LL * 1'000'000'000), "2000-02-29T00:00:00Z");
}

}  // namespace
}  // namespace llmbench::sim
