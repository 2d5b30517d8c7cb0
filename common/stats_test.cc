#include "common/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace llmbench {
namespace {

// ---------------------------------------------------------------------------------------
// SortedQuantile / Summarize: hand-computed R-7 values (h = (n−1)·q).

TEST(SortedQuantileTest, OneToHundred) {
  std::vector<double> v(100);
  std::iota(v.begin(), v.end(), 1.0);
  // h = 99q: q=.5 -> h=49.5 -> 50 + .5 = 50.5; q=.9 -> 89.1 -> 90.1; q=.95 -> 94.05 -> 95.05;
  // q=.99 -> 98.01 -> 99.01; q=.999 -> 98.901 -> 99.901; q=.25 -> 24.75 -> 25.75.
  EXPECT_EQ(SortedQuantile(v, 0), 1);
  EXPECT_EQ(SortedQuantile(v, 1), 100);
  EXPECT_NEAR(SortedQuantile(v, 0.25), 25.75, 1e-12);
  EXPECT_NEAR(SortedQuantile(v, 0.5), 50.5, 1e-12);
  EXPECT_NEAR(SortedQuantile(v, 0.9), 90.1, 1e-12);
  EXPECT_NEAR(SortedQuantile(v, 0.95), 95.05, 1e-12);
  EXPECT_NEAR(SortedQuantile(v, 0.99), 99.01, 1e-12);
  EXPECT_NEAR(SortedQuantile(v, 0.999), 99.901, 1e-12);
}

TEST(SortedQuantileTest, SingleAndTwoValues) {
  const std::vector<double> one = {7};
  for (double q : {0.0, 0.3, 0.5, 0.999, 1.0}) EXPECT_EQ(SortedQuantile(one, q), 7) << q;
  const std::vector<double> two = {10, 20};
  EXPECT_EQ(SortedQuantile(two, 0), 10);
  EXPECT_NEAR(SortedQuantile(two, 0.5), 15, 1e-12);
  EXPECT_NEAR(SortedQuantile(two, 0.9), 19, 1e-12);
  EXPECT_NEAR(SortedQuantile(two, 0.99), 19.9, 1e-12);
  EXPECT_EQ(SortedQuantile(two, 1), 20);
}

TEST(SortedQuantileTest, OutOfContractInputDoesNotCrash) {
  EXPECT_EQ(SortedQuantile({}, 0.5), 0);
  const std::vector<double> v = {1, 2, 3};
  EXPECT_EQ(SortedQuantile(v, -1), 1);
  EXPECT_EQ(SortedQuantile(v, 2), 3);
  EXPECT_EQ(SortedQuantile(v, std::numeric_limits<double>::quiet_NaN()), 1);
}

TEST(SummarizeTest, EmptyIsAbsent) {
  std::vector<double> v;
  EXPECT_FALSE(Summarize(v).has_value());
  std::vector<double> only_nan = {std::numeric_limits<double>::quiet_NaN()};
  EXPECT_FALSE(Summarize(only_nan).has_value());
}

TEST(SummarizeTest, OneToHundredShuffled) {
  std::vector<double> v(100);
  std::iota(v.begin(), v.end(), 1.0);
  std::mt19937_64 rng(1);
  std::shuffle(v.begin(), v.end(), rng);
  const auto s = Summarize(v);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // sorted in place
  EXPECT_EQ(s->count, 100u);
  EXPECT_NEAR(s->mean, 50.5, 1e-12);
  // Sample variance of 1..n is n(n+1)/12 = 841.666…
  EXPECT_NEAR(s->stdev, std::sqrt(100.0 * 101.0 / 12.0), 1e-12);
  EXPECT_EQ(s->min, 1);
  EXPECT_EQ(s->max, 100);
  EXPECT_NEAR(s->p50, 50.5, 1e-12);
  EXPECT_NEAR(s->p90, 90.1, 1e-12);
  EXPECT_NEAR(s->p95, 95.05, 1e-12);
  EXPECT_NEAR(s->p99, 99.01, 1e-12);
  EXPECT_NEAR(s->p999, 99.901, 1e-12);
}

TEST(SummarizeTest, SingleValueHasZeroStdev) {
  std::vector<double> v = {3.5};
  const auto s = Summarize(v);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->count, 1u);
  EXPECT_EQ(s->mean, 3.5);
  EXPECT_EQ(s->stdev, 0);
  EXPECT_EQ(s->min, 3.5);
  EXPECT_EQ(s->p50, 3.5);
  EXPECT_EQ(s->p999, 3.5);
  EXPECT_EQ(s->max, 3.5);
}

TEST(SummarizeTest, TwoValues) {
  std::vector<double> v = {20, 10};
  const auto s = Summarize(v);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->mean, 15);
  EXPECT_NEAR(s->stdev, std::sqrt(50.0), 1e-12);  // ((5² + 5²) / (2 − 1))^½
  EXPECT_NEAR(s->p50, 15, 1e-12);
  EXPECT_NEAR(s->p90, 19, 1e-12);
  EXPECT_NEAR(s->p95, 19.5, 1e-12);
  EXPECT_NEAR(s->p99, 19.9, 1e-12);
  EXPECT_NEAR(s->p999, 19.99, 1e-12);
}

TEST(SummarizeTest, Duplicates) {
  std::vector<double> v = {2, 3, 2, 1, 2};
  const auto s = Summarize(v);
  ASSERT_TRUE(s.has_value());
  // sorted {1,2,2,2,3}; h = 4q: .5 -> 2 -> 2; .9 -> 3.6 -> 2.6; .95 -> 3.8 -> 2.8;
  // .99 -> 3.96 -> 2.96.
  EXPECT_EQ(s->p50, 2);
  EXPECT_NEAR(s->p90, 2.6, 1e-12);
  EXPECT_NEAR(s->p95, 2.8, 1e-12);
  EXPECT_NEAR(s->p99, 2.96, 1e-12);
  EXPECT_EQ(s->mean, 2);
  EXPECT_NEAR(s->stdev, std::sqrt(0.5), 1e-12);  // squares 1+0+0+0+1 over 4
}

TEST(SummarizeTest, StdevIsStableWithLargeOffset) {
  // A naive sum-of-squares formula loses every digit here.
  std::vector<double> v = {1e9 + 1, 1e9 + 2, 1e9 + 3};
  const auto s = Summarize(v);
  ASSERT_TRUE(s.has_value());
  EXPECT_NEAR(s->stdev, 1.0, 1e-9);
}

TEST(SummarizeTest, NanIsDropped) {
  std::vector<double> v = {3, std::numeric_limits<double>::quiet_NaN(), 1};
  const auto s = Summarize(v);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->count, 2u);
  EXPECT_EQ(s->min, 1);
  EXPECT_EQ(s->max, 3);
  EXPECT_EQ(v.size(), 2u);
}

// ---------------------------------------------------------------------------------------
// LogHistogram

// The check for a histogram quantile: R-7 puts quantile q between the order statistics at
// 0-based ranks floor(h) and ceil(h), h = (n−1)·q. The histogram's answer must be within
// relative error α of one of those two order statistics. (The slack 1e-9·α covers the
// rounding of γ^i at a bucket edge, where the error is exactly α in real arithmetic.)
bool WithinRelativeErrorOfRank(const std::vector<double>& sorted, double q, double got,
                               double alpha) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  for (double r : {std::floor(h), std::ceil(h)}) {
    const double x = sorted[static_cast<size_t>(r)];
    if (std::abs(got - x) <= alpha * (1 + 1e-9) * std::abs(x)) return true;
  }
  return false;
}

struct Distribution {
  std::string name;
  std::function<double(std::mt19937_64&)> draw;
};

std::vector<Distribution> Distributions() {
  return {
      {"log-uniform over 6 decades",
       [](std::mt19937_64& g) {
         return std::pow(10.0, std::uniform_real_distribution<double>(-3, 3)(g));
       }},
      {"lognormal(0, 2.5)",
       [](std::mt19937_64& g) { return std::lognormal_distribution<double>(0, 2.5)(g); }},
      {"exponential(mean 50)",
       [](std::mt19937_64& g) { return std::exponential_distribution<double>(0.02)(g); }},
      {"uniform(1, 1000)",
       [](std::mt19937_64& g) { return std::uniform_real_distribution<double>(1, 1000)(g); }},
      {"integers 1..20 (many ties)",
       [](std::mt19937_64& g) {
         return static_cast<double>(std::uniform_int_distribution<int>(1, 20)(g));
       }},
  };
}

TEST(LogHistogramTest, QuantilesWithinRelativeError) {
  for (double alpha : {0.01, 0.05}) {
    for (const auto& dist : Distributions()) {
      for (size_t n : {1u, 2u, 3u, 10u, 1000u, 20000u}) {
        std::mt19937_64 rng(n * 7919 + static_cast<uint64_t>(alpha * 1000));
        LogHistogram h(alpha);
        std::vector<double> values;
        for (size_t i = 0; i < n; ++i) {
          values.push_back(dist.draw(rng));
          h.Add(values.back());
        }
        std::sort(values.begin(), values.end());
        ASSERT_EQ(h.count(), n);
        EXPECT_EQ(h.min(), values.front());
        EXPECT_EQ(h.max(), values.back());
        // Every 0.1% quantile plus the tails.
        for (int i = 0; i <= 1000; ++i) {
          const double q = i / 1000.0;
          const double got = h.Quantile(q);
          ASSERT_TRUE(WithinRelativeErrorOfRank(values, q, got, alpha))
              << dist.name << " n=" << n << " alpha=" << alpha << " q=" << q << " got=" << got;
        }
        for (double q : {0.9999, 0.99999}) {
          ASSERT_TRUE(WithinRelativeErrorOfRank(values, q, h.Quantile(q), alpha))
              << dist.name << " q=" << q;
        }
        EXPECT_EQ(h.Quantile(0), values.front());
        EXPECT_EQ(h.Quantile(1), values.back());
      }
    }
  }
}

TEST(LogHistogramTest, TheQuantileCheckCanFail) {
  // The same predicate rejects answers that are off by 2α, and rejects reporting a bucket's
  // lower edge (relative error up to 2α) for some quantile of a log-uniform sample.
  std::mt19937_64 rng(5);
  std::vector<double> values;
  LogHistogram h;
  for (int i = 0; i < 5000; ++i) {
    values.push_back(std::pow(10.0, std::uniform_real_distribution<double>(-3, 3)(rng)));
    h.Add(values.back());
  }
  std::sort(values.begin(), values.end());
  EXPECT_FALSE(WithinRelativeErrorOfRank(values, 0.5, SortedQuantile(values, 0.5) * 1.02,
                                         0.01));
  int lower_edge_failures = 0;
  for (int i = 1; i < 100; ++i) {
    const double q = i / 100.0;
    const double got = h.Quantile(q);
    // got is 2γ^(i+1)/(1+γ) = γ^i·(1+α): the bucket's lower edge γ^i is got/(1+α). Values in
    // the upper half (in log scale) of a bucket are more than α above it.
    if (!WithinRelativeErrorOfRank(values, q, got / (1 + 0.01), 0.01)) {
      ++lower_edge_failures;
    }
  }
  EXPECT_GT(lower_edge_failures, 10);
}

TEST(LogHistogramTest, Empty) {
  LogHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.sum(), 0);
  EXPECT_EQ(h.mean(), 0);
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_TRUE(h.Buckets().empty());
  EXPECT_EQ(h.relative_error(), 0.01);
  EXPECT_TRUE(h == LogHistogram());
}

TEST(LogHistogramTest, ExactMoments) {
  LogHistogram h;
  h.Add(1.5);
  h.Add(2.5, 3);
  h.Add(10);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sum(), 1.5 + 7.5 + 10);
  EXPECT_EQ(h.mean(), 19.0 / 5);
  EXPECT_EQ(h.min(), 1.5);
  EXPECT_EQ(h.max(), 10);
}

TEST(LogHistogramTest, AddWithCountEqualsRepeatedAdd) {
  LogHistogram a, b;
  a.Add(3.25, 4);
  for (int i = 0; i < 4; ++i) b.Add(3.25);
  EXPECT_TRUE(a == b);
  a.Add(7, 0);  // a zero count is a no-op
  EXPECT_TRUE(a == b);
}

TEST(LogHistogramTest, ZeroAndBelowMinValue) {
  LogHistogram h(0.01, 1e-6);
  h.Add(0);
  h.Add(5e-7);  // below min_value: shares the zero bucket
  h.Add(0);
  h.Add(4);
  const auto buckets = h.Buckets();
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].lower, 0);
  EXPECT_EQ(buckets[0].upper, 1e-6);
  EXPECT_EQ(buckets[0].count, 3u);
  EXPECT_LE(buckets[1].lower, 4);
  EXPECT_GT(buckets[1].upper, 4);
  EXPECT_EQ(buckets[1].count, 1u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.Quantile(0.5), 0);  // rank round(1.5) = 2: a zero-bucket value, reported as 0
  EXPECT_EQ(h.Quantile(1), 4);
  // A value exactly at min_value is resolved normally.
  LogHistogram g(0.01, 1e-6);
  g.Add(1e-6);
  g.Add(1e-6);
  g.Add(1e-6);
  ASSERT_EQ(g.Buckets().size(), 1u);
  EXPECT_EQ(g.Buckets()[0].lower, 1e-6);
  EXPECT_NEAR(g.Quantile(0.5), 1e-6, 1e-8);
}

TEST(LogHistogramTest, NonFiniteValuesAreIgnored) {
  LogHistogram h;
  h.Add(std::numeric_limits<double>::quiet_NaN());
  h.Add(std::numeric_limits<double>::infinity());
  h.Add(2);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.sum(), 2);
}

TEST(LogHistogramTest, BucketsCoverTheirValues) {
  std::mt19937_64 rng(11);
  LogHistogram h;
  for (int i = 0; i < 2000; ++i) {
    const double v = std::pow(10.0, std::uniform_real_distribution<double>(-4, 4)(rng));
    LogHistogram one;
    one.Add(v);
    const auto b = one.Buckets();
    ASSERT_EQ(b.size(), 1u);
    // The bucket edges are γ^i; allow the rounding of log/pow at an edge.
    EXPECT_LE(b[0].lower, v * (1 + 1e-12));
    EXPECT_GT(b[0].upper, v * (1 - 1e-12));
    EXPECT_NEAR(b[0].upper / b[0].lower, (1 + 0.01) / (1 - 0.01), 1e-9);
    h.Add(v);
  }
  const auto buckets = h.Buckets();
  uint64_t total = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    total += buckets[i].count;
    EXPECT_GT(buckets[i].count, 0u);
    if (i > 0) {
      EXPECT_GT(buckets[i].lower, buckets[i - 1].lower);
    }
  }
  EXPECT_EQ(total, 2000u);
}

TEST(LogHistogramTest, MergeEqualsHistogramOfUnion) {
  std::mt19937_64 rng(42);
  const auto dists = Distributions();
  for (int trial = 0; trial < 300; ++trial) {
    const auto& dist = dists[static_cast<size_t>(trial) % dists.size()];
    const int n = std::uniform_int_distribution<int>(0, 500)(rng);
    const double p_left = std::uniform_real_distribution<double>(0, 1)(rng);
    LogHistogram all, left, right;
    for (int i = 0; i < n; ++i) {
      double v = dist.draw(rng);
      if (i % 50 == 7) v = 0;  // exercise the zero bucket too
      all.Add(v);
      (std::bernoulli_distribution(p_left)(rng) ? left : right).Add(v);
    }
    LogHistogram merged = left;
    merged.Merge(right);
    EXPECT_TRUE(merged == all) << "trial " << trial;
    LogHistogram swapped = right;
    swapped.Merge(left);
    EXPECT_TRUE(swapped == all) << "trial " << trial;
    EXPECT_EQ(merged.count(), all.count());
    EXPECT_EQ(merged.min(), all.min());
    EXPECT_EQ(merged.max(), all.max());
    EXPECT_NEAR(merged.sum(), all.sum(), 1e-9 * std::abs(all.sum()));
    for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 1.0}) {
      EXPECT_EQ(merged.Quantile(q), all.Quantile(q)) << "trial " << trial << " q=" << q;
    }
  }
}

TEST(LogHistogramTest, MergeIsAssociativeAndCommutative) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    LogHistogram parts[3];
    for (auto& part : parts) {
      const int n = std::uniform_int_distribution<int>(0, 200)(rng);
      // Each part over a different range so that the bucket vectors need extending both ways.
      const double scale = std::pow(10.0, std::uniform_int_distribution<int>(-3, 3)(rng));
      for (int i = 0; i < n; ++i) {
        part.Add(scale * std::lognormal_distribution<double>(0, 1)(rng));
      }
    }
    LogHistogram ab_c = parts[0];
    ab_c.Merge(parts[1]);
    ab_c.Merge(parts[2]);
    LogHistogram bc = parts[1];
    bc.Merge(parts[2]);
    LogHistogram a_bc = parts[0];
    a_bc.Merge(bc);
    LogHistogram cba = parts[2];
    cba.Merge(parts[1]);
    cba.Merge(parts[0]);
    EXPECT_TRUE(ab_c == a_bc) << trial;
    EXPECT_TRUE(ab_c == cba) << trial;
  }
}

TEST(LogHistogramTest, MergeWithEmpty) {
  LogHistogram a, empty;
  a.Add(5);
  a.Add(0.5);
  LogHistogram a_copy = a;
  a.Merge(empty);
  EXPECT_TRUE(a == a_copy);
  empty.Merge(a);
  EXPECT_TRUE(empty == a);
  EXPECT_EQ(empty.min(), 0.5);  // not the empty side's 0
}

TEST(LogHistogramTest, EqualityDetectsDifferences) {
  LogHistogram a, b;
  a.Add(1);
  b.Add(1.5);
  EXPECT_FALSE(a == b);  // different bucket, min, max, sum
  LogHistogram c, d;
  c.Add(1.0);
  c.Add(1.001);  // same bucket as 1.0 at α = 1%
  d.Add(1.0);
  d.Add(1.001);
  d.Add(1.0005);
  EXPECT_FALSE(c == d);
  EXPECT_FALSE(LogHistogram(0.01) == LogHistogram(0.02));
  EXPECT_FALSE(LogHistogram(0.01, 1e-9) == LogHistogram(0.01, 1e-6));
}

// Merge of histograms with different parameters is a precondition violation
// (REQUIRES in stats.h). Debug builds assert; release builds degrade to re-adding the other
// side's bucket representatives, keeping count, sum, min and max exact.
TEST(LogHistogramTest, MergeMismatchedParameters) {
  LogHistogram a(0.01), b(0.05);
  a.Add(1);
  b.Add(10);
  b.Add(100);
#ifdef NDEBUG
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.sum(), 111);
  EXPECT_EQ(a.min(), 1);
  EXPECT_EQ(a.max(), 100);
  EXPECT_EQ(a.relative_error(), 0.01);
  EXPECT_NEAR(a.Quantile(0.5), 10, 10 * (0.05 + 0.01));
#else
  EXPECT_DEATH(a.Merge(b), "relative_error and min_value must match");
#endif
}

}  // namespace
}  // namespace llmbench
