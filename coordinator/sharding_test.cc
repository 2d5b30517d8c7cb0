#include "coordinator/sharding.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/scenario_loader.h"
#include "gtest/gtest.h"
#include "proto/wire/shard_ids.h"

namespace llmbench::coordinator {
namespace {

// The measured ids of a shard, in its order (request_ids, then request_ranges).
std::vector<uint64_t> IdsOf(const llmbench::v1::Shard& shard) {
  const wire::ShardIds ids(shard);
  std::vector<uint64_t> out;
  for (uint64_t j = 0; j < ids.size(); ++j) out.push_back(ids.IdAt(j));
  return out;
}

// One one-id range per id.
std::vector<llmbench::v1::IdRange> Ranges(const std::vector<uint64_t>& ids) {
  std::vector<llmbench::v1::IdRange> out;
  for (uint64_t id : ids) {
    out.emplace_back();
    out.back().set_first(id);
    out.back().set_count(1);
  }
  return out;
}

using llmbench::v1::Prompt;
using llmbench::v1::Scenario;
using llmbench::v1::Shard;

std::vector<Prompt> MakePrompts(int n) {
  std::vector<Prompt> prompts(n);
  for (int i = 0; i < n; ++i) prompts[i].set_text(absl::StrCat("prompt ", i));
  return prompts;
}

Scenario BaseScenario() {
  Scenario s;
  auto* engine = s.add_engines();
  engine->set_kind(llmbench::v1::ENGINE_KIND_VLLM);
  engine->set_base_url("http://127.0.0.1:8000");
  engine->set_model("m");
  auto* second = s.add_engines();
  *second = *engine;
  second->set_name("other");
  second->set_base_url("http://127.0.0.1:8001");
  return s;
}

Scenario ConcurrencyScenario(uint32_t concurrency, uint64_t requests) {
  Scenario s = BaseScenario();
  s.mutable_load()->mutable_concurrency()->set_concurrency(concurrency);
  s.mutable_load()->set_requests(requests);
  ApplyScenarioDefaults(&s);
  return s;
}

Scenario RateScenario(double rps, uint64_t requests) {
  Scenario s = BaseScenario();
  s.mutable_load()->mutable_rate()->set_rps(rps);
  s.mutable_load()->set_requests(requests);
  ApplyScenarioDefaults(&s);
  return s;
}

// Checks the invariants every count-bounded split must hold.
void CheckCountBounded(const Scenario& scenario, const std::vector<Shard>& shards,
                       uint32_t workers, const std::vector<Prompt>& prompts) {
  const uint64_t n = scenario.load().requests();
  SCOPED_TRACE(absl::StrCat("requests=", n, " workers=", workers));
  ASSERT_LE(shards.size(), workers);
  if (n == 0) {
    EXPECT_TRUE(shards.empty());
    return;
  }
  ASSERT_FALSE(shards.empty());
  // Union of ids == {0..N-1}, no duplicates; contiguous per shard.
  std::vector<uint64_t> all;
  uint64_t expected_next = 0;
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < shards.size(); ++i) {
    const Shard& shard = shards[i];
    EXPECT_EQ(shard.shard_index(), i);
    EXPECT_EQ(shard.shard_count(), shards.size());
    // One range each: a shard of millions of requests stays a few bytes.
    EXPECT_TRUE(shard.request_ids().empty());
    EXPECT_EQ(shard.request_ranges_size(), 1);
    for (uint64_t id : IdsOf(shard)) {
      EXPECT_EQ(id, expected_next++);
      all.push_back(id);
    }
    seeds.insert(shard.load().seed());
    // Every shard carries the full prompt list in the same order: id k -> prompts[k % size]
    // names the same prompt whichever shard runs k.
    ASSERT_EQ(shard.prompts_size(), static_cast<int>(prompts.size()));
    for (size_t p = 0; p < prompts.size(); ++p) {
      EXPECT_EQ(shard.prompts(static_cast<int>(p)).text(), prompts[p].text());
    }
    EXPECT_EQ(shard.engine().base_url(), scenario.engines(1).base_url());
    EXPECT_EQ(shard.generation().max_tokens(), scenario.generation().max_tokens());
    EXPECT_EQ(shard.run_id(), "run-1");
    EXPECT_EQ(shard.start_unix_ns(), 12345);
    EXPECT_EQ(shard.record_batch_size(), kDefaultRecordBatchSize);
    EXPECT_EQ(shard.progress_interval_ms(), kDefaultProgressIntervalMs);
  }
  EXPECT_EQ(all.size(), n);
  EXPECT_EQ(seeds.size(), shards.size());
}

TEST(ShardingTest, ConcurrencyPropertiesHoldForManyWorkloads) {
  const std::vector<Prompt> prompts = MakePrompts(7);
  for (uint64_t requests : {0, 1, 2, 7, 100, 1001}) {
    for (uint32_t workers : {1, 2, 3, 8, 16}) {
      for (uint32_t concurrency : {1, 3, 10, 1000}) {
        const Scenario s = ConcurrencyScenario(concurrency, requests);
        auto shards = MakeShards(s, 1, prompts, workers, "run-1", 12345);
        ASSERT_TRUE(shards.ok()) << shards.status();
        CheckCountBounded(s, *shards, workers, prompts);
        if (requests == 0) continue;
        uint64_t total = 0;
        for (const Shard& shard : *shards) {
          ASSERT_TRUE(shard.load().has_concurrency());
          EXPECT_GE(shard.load().concurrency().concurrency(), 1u);
          total += shard.load().concurrency().concurrency();
        }
        // Concurrency is conserved whenever there are requests for every worker's slot; with
        // fewer requests than workers only min(requests, concurrency, workers) shards exist.
        EXPECT_EQ(total, concurrency) << "requests=" << requests << " workers=" << workers;
        EXPECT_EQ(shards->size(), std::min<uint64_t>({workers, concurrency, requests}));
        // Equal weights: shares differ by at most one, larger ones first.
        for (size_t i = 1; i < shards->size(); ++i) {
          const auto prev = (*shards)[i - 1].load().concurrency().concurrency();
          const auto cur = (*shards)[i].load().concurrency().concurrency();
          EXPECT_TRUE(prev == cur || prev == cur + 1);
        }
      }
    }
  }
}

TEST(ShardingTest, RatePropertiesHoldForManyWorkloads) {
  const std::vector<Prompt> prompts = MakePrompts(3);
  for (uint64_t requests : {0, 1, 2, 7, 100, 1001}) {
    for (uint32_t workers : {1, 2, 3, 8, 16}) {
      for (double rps : {0.5, 10.0, 1000.7}) {
        Scenario s = RateScenario(rps, requests);
        s.mutable_load()->mutable_rate()->mutable_ramp()->set_from_rps(rps / 10);
        s.mutable_load()->mutable_rate()->mutable_ramp()->set_to_rps(rps);
        s.mutable_load()->mutable_rate()->mutable_ramp()->set_seconds(3);
        s.mutable_load()->mutable_rate()->mutable_burst()->set_size(5);
        s.mutable_load()->mutable_rate()->mutable_burst()->set_every_seconds(2);
        auto shards = MakeShards(s, 1, prompts, workers, "run-1", 12345);
        ASSERT_TRUE(shards.ok()) << shards.status();
        CheckCountBounded(s, *shards, workers, prompts);
        if (requests == 0) continue;
        EXPECT_EQ(shards->size(), std::min<uint64_t>(workers, requests));
        double rate = 0, from = 0, to = 0;
        uint64_t burst = 0;
        for (const Shard& shard : *shards) {
          ASSERT_TRUE(shard.load().has_rate());
          EXPECT_GT(shard.load().rate().rps(), 0);
          rate += shard.load().rate().rps();
          from += shard.load().rate().ramp().from_rps();
          to += shard.load().rate().ramp().to_rps();
          EXPECT_EQ(shard.load().rate().ramp().seconds(), 3);
          if (shard.load().rate().has_burst()) {
            EXPECT_GE(shard.load().rate().burst().size(), 1u);
            EXPECT_EQ(shard.load().rate().burst().every_seconds(), 2);
            burst += shard.load().rate().burst().size();
          }
        }
        // Sum of rates equals the scenario rate to 1e-9 relative.
        EXPECT_NEAR(rate, rps, rps * 1e-9);
        EXPECT_NEAR(from, rps / 10, rps * 1e-9);
        EXPECT_NEAR(to, rps, rps * 1e-9);
        EXPECT_EQ(burst, 5u);
      }
    }
  }
}

TEST(ShardingTest, TenOverThreeIsFourThreeThree) {
  auto shards = MakeShards(ConcurrencyScenario(10, 100), 0, MakePrompts(1), 3, "r", 0);
  ASSERT_TRUE(shards.ok());
  ASSERT_EQ(shards->size(), 3u);
  EXPECT_EQ((*shards)[0].load().concurrency().concurrency(), 4u);
  EXPECT_EQ((*shards)[1].load().concurrency().concurrency(), 3u);
  EXPECT_EQ((*shards)[2].load().concurrency().concurrency(), 3u);
  EXPECT_EQ(IdsOf((*shards)[0]).size(), 34u);
  EXPECT_EQ(IdsOf((*shards)[0])[0], 0u);
  EXPECT_EQ(IdsOf((*shards)[1])[0], 34u);
  EXPECT_EQ(IdsOf((*shards)[2])[0], 67u);
  EXPECT_EQ(IdsOf((*shards)[2])[32], 99u);
}

TEST(ShardingTest, ConcurrencyBelowWorkersLeavesWorkersIdle) {
  auto shards = MakeShards(ConcurrencyScenario(3, 100), 0, MakePrompts(1), 8, "r", 0);
  ASSERT_TRUE(shards.ok());
  ASSERT_EQ(shards->size(), 3u);
  for (const Shard& shard : *shards) EXPECT_EQ(shard.load().concurrency().concurrency(), 1u);
}

TEST(ShardingTest, DurationBoundedShardsUseStrides) {
  for (uint32_t workers : {1, 2, 3, 8, 16}) {
    Scenario s = BaseScenario();
    s.mutable_load()->mutable_rate()->set_rps(10);
    s.mutable_load()->set_duration_seconds(30);
    ApplyScenarioDefaults(&s);
    ASSERT_FALSE(s.load().has_requests());
    auto shards = MakeShards(s, 0, MakePrompts(2), workers, "r", 0);
    ASSERT_TRUE(shards.ok());
    ASSERT_EQ(shards->size(), workers);
    // The first 1000 ids of every shard never collide and cover 0..1000*W-1.
    std::set<uint64_t> ids;
    for (const Shard& shard : *shards) {
      EXPECT_TRUE(shard.request_ids().empty());
      EXPECT_TRUE(shard.request_ranges().empty());
      EXPECT_EQ(shard.id_stride(), workers);
      EXPECT_EQ(shard.duration_seconds(), 30);
      for (uint64_t k = 0; k < 1000; ++k) ids.insert(shard.first_id() + k * shard.id_stride());
    }
    EXPECT_EQ(ids.size(), 1000u * workers);
    EXPECT_EQ(*ids.rbegin(), 1000u * workers - 1);
  }
}

TEST(ShardingTest, WarmupRequestsAreSplitAndNumberedApart) {
  Scenario s = ConcurrencyScenario(8, 50);
  s.mutable_load()->set_warmup_requests(10);
  s.mutable_load()->set_warmup_seconds(1.5);
  auto shards = MakeShards(s, 0, MakePrompts(3), 3, "r", 0);
  ASSERT_TRUE(shards.ok());
  ASSERT_EQ(shards->size(), 3u);
  std::set<uint64_t> warmup_ids;
  uint64_t total = 0;
  for (const Shard& shard : *shards) {
    EXPECT_EQ(shard.warmup_seconds(), 1.5);
    total += shard.warmup_requests();
    for (uint64_t j = 0; j < shard.warmup_requests(); ++j) {
      // The worker's numbering: never one of the measured ids 0..N-1.
      const uint64_t id = llmbench::wire::WarmupRequestId(shard.shard_index(), j);
      EXPECT_GE(id, uint64_t{50});
      warmup_ids.insert(id);
    }
  }
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(warmup_ids.size(), 10u);
  EXPECT_EQ((*shards)[0].warmup_requests(), 4u);
  EXPECT_EQ((*shards)[1].warmup_requests(), 3u);
}

TEST(ShardingTest, WeightsSplitRateConcurrencyAndRequestsProportionally) {
  Scenario rate = RateScenario(30, 90);
  auto shards = MakeShards(rate, 0, MakePrompts(1), 2, "r", 0, {1.0, 2.0});
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 2u);
  EXPECT_DOUBLE_EQ((*shards)[0].load().rate().rps(), 10);
  EXPECT_DOUBLE_EQ((*shards)[1].load().rate().rps(), 20);
  EXPECT_EQ(IdsOf((*shards)[0]).size(), 30u);
  EXPECT_EQ(IdsOf((*shards)[1]).size(), 60u);

  auto conc = MakeShards(ConcurrencyScenario(10, 100), 0, MakePrompts(1), 3, "r", 0,
                         {1.0, 1.0, 3.0});
  ASSERT_TRUE(conc.ok());
  ASSERT_EQ(conc->size(), 3u);
  EXPECT_EQ((*conc)[0].load().concurrency().concurrency(), 2u);
  EXPECT_EQ((*conc)[1].load().concurrency().concurrency(), 2u);
  EXPECT_EQ((*conc)[2].load().concurrency().concurrency(), 6u);
}

TEST(ShardingTest, SeedsAreDeterministicAndDependOnTheScenarioSeed) {
  Scenario s = ConcurrencyScenario(16, 100);
  auto a = MakeShards(s, 0, MakePrompts(1), 16, "r", 0);
  auto b = MakeShards(s, 0, MakePrompts(1), 16, "r", 0);
  s.set_seed(43);
  auto c = MakeShards(s, 0, MakePrompts(1), 16, "r", 0);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].load().seed(), (*b)[i].load().seed());
    EXPECT_NE((*a)[i].load().seed(), (*c)[i].load().seed());
  }
  std::set<uint64_t> seeds;
  for (uint32_t i = 0; i < 100000; ++i) seeds.insert(ShardSeed(42, i));
  EXPECT_EQ(seeds.size(), 100000u);
}

TEST(ShardingTest, RejectsBadArguments) {
  const Scenario s = ConcurrencyScenario(4, 10);
  EXPECT_EQ(std::string(MakeShards(s, 2, MakePrompts(1), 1, "r", 0).status().message()),
            "engine index 2 out of range (2 engines)");
  EXPECT_EQ(std::string(MakeShards(s, 0, MakePrompts(1), 0, "r", 0).status().message()),
            "no workers to shard over");
  EXPECT_EQ(std::string(MakeShards(s, 0, {}, 1, "r", 0).status().message()), "no prompts to shard");
  EXPECT_EQ(std::string(MakeShards(s, 0, MakePrompts(1), 2, "r", 0, {1.0}).status().message()),
            "got 1 weights for 2 workers");
  EXPECT_EQ(std::string(MakeShards(s, 0, MakePrompts(1), 2, "r", 0, {1.0, 0.0}).status().message()),
            "worker weights must be > 0, got 0");
  Scenario sweep = BaseScenario();
  sweep.mutable_load()->mutable_sweep()->set_start_rps(1);
  sweep.mutable_load()->mutable_sweep()->set_max_rps(10);
  ApplyScenarioDefaults(&sweep);
  EXPECT_EQ(std::string(MakeShards(sweep, 0, MakePrompts(1), 2, "r", 0).status().message()),
            "load.sweep: a sweep runs as a series of rate scenarios; shard each step");
}

TEST(ShardingTest, SplitProportionally) {
  EXPECT_EQ(SplitProportionally(10, {1, 1, 1}), (std::vector<uint64_t>{4, 3, 3}));
  EXPECT_EQ(SplitProportionally(2, {1, 1, 1}), (std::vector<uint64_t>{1, 1, 0}));
  EXPECT_EQ(SplitProportionally(0, {1, 2}), (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(SplitProportionally(7, {1, 2, 4}), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(SplitProportionally(1, {1, 3}), (std::vector<uint64_t>{0, 1}));
  const std::vector<uint64_t> big = SplitProportionally(1'000'000'000'007, {0.3, 0.7, 1e-9});
  EXPECT_EQ(std::accumulate(big.begin(), big.end(), uint64_t{0}), 1'000'000'000'007u);
}

TEST(ShardingTest, ReassignmentCoversExactlyTheUnfinishedIds) {
  for (uint32_t concurrency : {1, 3, 10}) {
    for (uint32_t remaining : {1, 2, 3, 8}) {
      auto shards = MakeShards(ConcurrencyScenario(concurrency * 3, 1001), 0, MakePrompts(5), 3,
                               "r", 0);
      ASSERT_TRUE(shards.ok());
      const Shard& failed = (*shards)[1];
      // Every third id of the failed shard, shuffled and with a duplicate, is unfinished.
      const std::vector<uint64_t> owned = IdsOf(failed);
      std::vector<uint64_t> unfinished;
      for (int i = static_cast<int>(owned.size()) - 1; i >= 0; i -= 3) {
        unfinished.push_back(owned[static_cast<size_t>(i)]);
      }
      unfinished.push_back(unfinished.front());
      auto reassigned = ReassignRequests(Ranges(unfinished), failed, remaining, 3, 999);
      ASSERT_TRUE(reassigned.ok()) << reassigned.status();
      std::set<uint64_t> expected(unfinished.begin(), unfinished.end());
      std::vector<uint64_t> got;
      uint64_t total_concurrency = 0;
      std::set<uint64_t> seeds;
      for (size_t k = 0; k < reassigned->size(); ++k) {
        const Shard& shard = (*reassigned)[k];
        EXPECT_EQ(shard.shard_index(), 3 + k);
        EXPECT_EQ(shard.shard_count(), 3 + reassigned->size());
        EXPECT_EQ(shard.warmup_requests(), 0u);
        EXPECT_EQ(shard.start_unix_ns(), 999);
        EXPECT_EQ(shard.prompts_size(), 5);
        const std::vector<uint64_t> ids = IdsOf(shard);
        got.insert(got.end(), ids.begin(), ids.end());
        total_concurrency += shard.load().concurrency().concurrency();
        seeds.insert(shard.load().seed());
      }
      EXPECT_EQ(got, std::vector<uint64_t>(expected.begin(), expected.end()));
      EXPECT_EQ(total_concurrency, failed.load().concurrency().concurrency());
      EXPECT_EQ(seeds.size(), reassigned->size());
      EXPECT_EQ(reassigned->size(),
                std::min<uint64_t>({remaining, concurrency, expected.size()}));
    }
  }
}

TEST(ShardingTest, ReassignmentOfRateShardKeepsItsRate) {
  auto shards = MakeShards(RateScenario(9, 90), 0, MakePrompts(1), 3, "r", 0);
  ASSERT_TRUE(shards.ok());
  const Shard& failed = (*shards)[2];
  auto reassigned = ReassignRequests(Ranges({60, 61, 62, 63, 64}), failed, 2, 3, 0);
  ASSERT_TRUE(reassigned.ok());
  ASSERT_EQ(reassigned->size(), 2u);
  EXPECT_NEAR((*reassigned)[0].load().rate().rps() + (*reassigned)[1].load().rate().rps(),
              failed.load().rate().rps(), 1e-12);
  EXPECT_EQ(IdsOf((*reassigned)[0]), (std::vector<uint64_t>{60, 61, 62}));
  EXPECT_EQ(IdsOf((*reassigned)[1]), (std::vector<uint64_t>{63, 64}));
  // The five ids merged into one range, split as two.
  EXPECT_EQ((*reassigned)[0].request_ranges_size(), 1);
}

TEST(ShardingTest, ReassignmentRejectsForeignIdsAndNoWorkers) {
  auto shards = MakeShards(ConcurrencyScenario(2, 10), 0, MakePrompts(1), 2, "r", 0);
  ASSERT_TRUE(shards.ok());
  EXPECT_EQ(std::string(ReassignRequests(Ranges({0}), (*shards)[1], 1, 2, 0).status().message()),
            "request id 0 is not one of shard 1's request ids");
  EXPECT_EQ(std::string(ReassignRequests(Ranges({5}), (*shards)[1], 0, 2, 0).status().message()),
            "no workers left to reassign to");
  // A range that runs past the shard's ids.
  std::vector<llmbench::v1::IdRange> past = Ranges({8});
  past[0].set_count(5);
  EXPECT_EQ(std::string(ReassignRequests(past, (*shards)[1], 1, 2, 0).status().message()),
            "request id 12 is not one of shard 1's request ids");
  auto none = ReassignRequests({}, (*shards)[1], 3, 2, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace llmbench::coordinator
