#include "coordinator/server_histogram.h"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

v1::ServerHistogram Histogram(const std::vector<std::pair<double, double>>& cumulative) {
  v1::ServerHistogram h;
  for (const auto& [le, count] : cumulative) {
    v1::HistogramBucket* b = h.add_buckets();
    b->set_le(le);
    b->set_count(count);
  }
  h.set_count(cumulative.empty() ? 0 : cumulative.back().second);
  return h;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ServerBucketTest, FindsTheBucketHistogramQuantileUsed) {
  // 4 in (0, 0.3], 2 in (0.3, 0.6], 1 above: a queue-time histogram of near-zero waits.
  const v1::ServerHistogram h = Histogram({{0.3, 4}, {0.6, 6}, {kInf, 7}});
  std::optional<ServerQuantileBucket> p50 = FindServerQuantileBucket(h, 0.5);
  ASSERT_TRUE(p50.has_value());
  EXPECT_NEAR(p50->estimate_ms, 262.5, 1e-9);  // rank 3.5 of 4 in the first bucket
  EXPECT_EQ(p50->lower_ms, 0.0);
  EXPECT_NEAR(p50->upper_ms, 300.0, 1e-9);
  std::optional<ServerQuantileBucket> p80 = FindServerQuantileBucket(h, 0.8);
  ASSERT_TRUE(p80.has_value());
  EXPECT_NEAR(p80->lower_ms, 300.0, 1e-9);
  EXPECT_NEAR(p80->upper_ms, 600.0, 1e-9);
  std::optional<ServerQuantileBucket> p99 = FindServerQuantileBucket(h, 0.99);
  ASSERT_TRUE(p99.has_value());
  EXPECT_NEAR(p99->estimate_ms, 600.0, 1e-9);  // PromQL: the highest finite bound
  EXPECT_NEAR(p99->lower_ms, 600.0, 1e-9);
  EXPECT_EQ(p99->upper_ms, kInf);
  // Out-of-order and non-monotonic buckets are read as histogram_quantile reads them.
  std::optional<ServerQuantileBucket> odd =
      FindServerQuantileBucket(Histogram({{kInf, 4}, {0.02, 1}, {0.01, 2}}), 0.75);
  ASSERT_TRUE(odd.has_value());
  EXPECT_NEAR(odd->lower_ms, 20.0, 1e-9);
  EXPECT_EQ(odd->upper_ms, kInf);
  EXPECT_FALSE(FindServerQuantileBucket(Histogram({{0.01, 0}, {kInf, 0}}), 0.5).has_value());
  EXPECT_FALSE(FindServerQuantileBucket(Histogram({}), 0.5).has_value());
}

TEST(ServerBucketTest, ComparesOnlyWhatTheBucketResolves) {
  const ServerQuantileBucket bucket{30.0, 20.0, 40.0};
  // Above the whole bucket: the difference and its bounds.
  ServerComparison above = CompareWithServerBucket(45.0, bucket);
  ASSERT_TRUE(above.diff_ms.has_value());
  EXPECT_EQ(*above.diff_ms, 15.0);
  EXPECT_EQ(above.min_diff_ms, 5.0);
  EXPECT_EQ(above.max_diff_ms, 25.0);
  EXPECT_EQ(above.why_not, "");
  ServerComparison at_top = CompareWithServerBucket(40.0, bucket);
  ASSERT_TRUE(at_top.diff_ms.has_value());
  EXPECT_EQ(at_top.min_diff_ms, 0.0);
  // Inside it: -10 (26.6 - 36.6) would be impossible; too coarse.
  ServerComparison inside = CompareWithServerBucket(26.6, ServerQuantileBucket{36.6, 20, 40});
  EXPECT_FALSE(inside.diff_ms.has_value());
  EXPECT_EQ(inside.why_not,
            "too coarse to compare: the server's value lies somewhere in its 20–40 ms bucket, "
            "which holds the client's 26.6 ms too");
  // Below it: not the same requests.
  ServerComparison below = CompareWithServerBucket(12.0, bucket);
  EXPECT_FALSE(below.diff_ms.has_value());
  EXPECT_EQ(below.why_not,
            "not comparable: the client's 12 ms is below the server's value (in its 20–40 ms "
            "bucket): the engine counted other requests, or measures from another instant");
  // The +Inf bucket resolves nothing.
  ServerComparison open = CompareWithServerBucket(1e6, ServerQuantileBucket{600, 600, kInf});
  EXPECT_FALSE(open.diff_ms.has_value());
  EXPECT_EQ(open.why_not,
            "too coarse to compare: the server's value lies somewhere above 600 ms (its +Inf "
            "bucket), which holds the client's 1e+06 ms too");
}

}  // namespace
}  // namespace llmbench::coordinator
