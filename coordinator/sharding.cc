#include "coordinator/sharding.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "proto/wire/shard_ids.h"
#include "absl/strings/str_cat.h"
#include "coordinator/trace_sharding.h"

namespace llmbench::coordinator {
namespace {

using llmbench::v1::Shard;

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

uint64_t SplitMix64(uint64_t x) {
  x += kGolden;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Splits `total` (a rate) into parts proportional to weights; the last part takes what the
// others leave so that the parts sum to total up to one rounding.
std::vector<double> SplitRate(double total, const std::vector<double>& weights) {
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> parts(weights.size());
  double assigned = 0;
  for (size_t i = 0; i + 1 < weights.size(); ++i) {
    parts[i] = total * (weights[i] / sum);
    assigned += parts[i];
  }
  if (!parts.empty()) parts.back() = std::max(0.0, total - assigned);
  return parts;
}

// Writes the i-th share of `rate` (split by `weights`) into `out`.
void SplitRateLoad(const llmbench::v1::RateLoad& rate, const std::vector<double>& weights,
                   std::vector<llmbench::v1::RateLoad>* out) {
  const std::vector<double> rps = SplitRate(rate.rps(), weights);
  std::vector<double> from, to;
  if (rate.has_ramp()) {
    from = SplitRate(rate.ramp().from_rps(), weights);
    to = SplitRate(rate.ramp().to_rps(), weights);
  }
  std::vector<uint64_t> burst;
  if (rate.has_burst()) burst = SplitProportionally(rate.burst().size(), weights);
  out->assign(weights.size(), rate);
  for (size_t i = 0; i < weights.size(); ++i) {
    llmbench::v1::RateLoad& part = (*out)[i];
    part.set_rps(rps[i]);
    if (rate.has_ramp()) {
      part.mutable_ramp()->set_from_rps(from[i]);
      part.mutable_ramp()->set_to_rps(to[i]);
    }
    if (rate.has_burst()) {
      if (burst[i] == 0) {
        part.clear_burst();
      } else {
        part.mutable_burst()->set_size(static_cast<uint32_t>(burst[i]));
      }
    }
  }
}

}  // namespace

std::vector<uint64_t> SplitProportionally(uint64_t total, const std::vector<double>& weights) {
  const size_t n = weights.size();
  std::vector<uint64_t> parts(n, 0);
  if (n == 0) return parts;
  const bool equal = std::all_of(weights.begin(), weights.end(),
                                 [&](double w) { return w == weights[0]; });
  if (equal) {
    for (size_t i = 0; i < n; ++i) parts[i] = total / n + (i < total % n ? 1 : 0);
    return parts;
  }
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> fraction(n);
  uint64_t assigned = 0;
  for (size_t i = 0; i < n; ++i) {
    const double quota = static_cast<double>(total) * (weights[i] / sum);
    const double whole = std::floor(quota);
    parts[i] = static_cast<uint64_t>(whole);
    fraction[i] = quota - whole;
    assigned += parts[i];
  }
  // Rounding in the quotas can overshoot by a few units: take them back from the largest.
  while (assigned > total) {
    const size_t largest =
        static_cast<size_t>(std::max_element(parts.begin(), parts.end()) - parts.begin());
    --parts[largest];
    --assigned;
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return fraction[a] > fraction[b]; });
  for (size_t k = 0; assigned < total; k = (k + 1) % n) {
    ++parts[order[k]];
    ++assigned;
  }
  return parts;
}

uint64_t ShardSeed(uint64_t seed, uint32_t index) {
  return SplitMix64(seed + (uint64_t{index} + 1) * kGolden);
}

absl::StatusOr<std::vector<Shard>> MakeShards(const llmbench::v1::Scenario& scenario,
                                              int engine_index,
                                              const std::vector<llmbench::v1::Prompt>& prompts,
                                              uint32_t worker_count, const std::string& run_id,
                                              int64_t start_unix_ns,
                                              const std::vector<double>& weights) {
  if (engine_index < 0 || engine_index >= scenario.engines_size()) {
    return absl::InvalidArgumentError(absl::StrCat("engine index ", engine_index,
                                                   " out of range (", scenario.engines_size(),
                                                   " engines)"));
  }
  if (worker_count == 0) return absl::InvalidArgumentError("no workers to shard over");
  if (prompts.empty()) return absl::InvalidArgumentError("no prompts to shard");
  if (!weights.empty() && weights.size() != worker_count) {
    return absl::InvalidArgumentError(absl::StrCat("got ", weights.size(), " weights for ",
                                                   worker_count, " workers"));
  }
  for (double w : weights) {
    if (!(w > 0) || !std::isfinite(w)) {
      return absl::InvalidArgumentError(absl::StrCat("worker weights must be > 0, got ", w));
    }
  }
  const llmbench::v1::Load& load = scenario.load();
  if (load.has_sweep()) {
    return absl::InvalidArgumentError(
        "load.sweep: a sweep runs as a series of rate scenarios; shard each step");
  }
  if (load.has_trace()) {
    return MakeTraceShards(scenario, engine_index, prompts, worker_count, run_id, start_unix_ns,
                           weights);
  }
  if (!load.has_concurrency() && !load.has_rate()) {
    return absl::InvalidArgumentError("load: no concurrency or rate profile (apply defaults)");
  }
  if (load.has_concurrency() && load.concurrency().concurrency() == 0) {
    return absl::InvalidArgumentError("load.concurrency: must be >= 1");
  }
  if (load.has_rate() && !(load.rate().rps() > 0)) {
    return absl::InvalidArgumentError("load.rate.rps: must be > 0");
  }
  // Multi-turn: the ids are sessions, never split (a session runs whole on one shard).
  const bool count_bounded = load.has_requests() || load.has_sessions();
  const uint64_t count = load.has_sessions() ? load.sessions() : load.requests();
  if (count_bounded && count == 0) return std::vector<Shard>{};

  // Pick the workers that get a share: drop any whose share of concurrency or of the request
  // count rounds to zero, and split again among the rest until stable. The heaviest worker
  // always keeps a non-zero share, so this ends with at least one.
  std::vector<size_t> active(worker_count);
  std::iota(active.begin(), active.end(), 0);
  std::vector<double> active_weights;
  std::vector<uint64_t> concurrency_parts, request_parts;
  while (true) {
    active_weights.clear();
    for (size_t w : active) active_weights.push_back(weights.empty() ? 1.0 : weights[w]);
    if (load.has_concurrency()) {
      concurrency_parts = SplitProportionally(load.concurrency().concurrency(), active_weights);
    }
    if (count_bounded) request_parts = SplitProportionally(count, active_weights);
    std::vector<size_t> kept;
    for (size_t i = 0; i < active.size(); ++i) {
      const bool zero = (load.has_concurrency() && concurrency_parts[i] == 0) ||
                        (count_bounded && request_parts[i] == 0);
      if (!zero) kept.push_back(active[i]);
    }
    if (kept.size() == active.size()) break;
    active = std::move(kept);
  }

  const auto shard_count = static_cast<uint32_t>(active.size());
  std::vector<llmbench::v1::RateLoad> rates;
  if (load.has_rate()) SplitRateLoad(load.rate(), active_weights, &rates);
  const std::vector<uint64_t> warmup_parts =
      SplitProportionally(load.warmup_requests(), active_weights);

  std::vector<Shard> shards;
  shards.reserve(shard_count);
  uint64_t next_id = 0;
  for (uint32_t i = 0; i < shard_count; ++i) {
    Shard shard;
    shard.set_run_id(run_id);
    shard.set_shard_index(i);
    shard.set_shard_count(shard_count);
    *shard.mutable_engine() = scenario.engines(engine_index);
    *shard.mutable_generation() = scenario.generation();
    shard.mutable_prompts()->Assign(prompts.begin(), prompts.end());
    if (load.has_concurrency()) {
      shard.mutable_load()->mutable_concurrency()->set_concurrency(
          static_cast<uint32_t>(concurrency_parts[i]));
    } else {
      *shard.mutable_load()->mutable_rate() = rates[i];
    }
    shard.mutable_load()->set_seed(ShardSeed(scenario.seed(), i));
    if (count_bounded) {
      llmbench::v1::IdRange* ids = shard.add_request_ranges();
      ids->set_first(next_id);
      ids->set_count(request_parts[i]);
      next_id += request_parts[i];
    } else {
      shard.set_first_id(i);
      shard.set_id_stride(shard_count);
    }
    if (load.has_duration_seconds()) shard.set_duration_seconds(load.duration_seconds());
    shard.set_warmup_requests(warmup_parts[i]);
    shard.set_warmup_seconds(load.warmup_seconds());
    shard.set_start_unix_ns(start_unix_ns);
    if (scenario.prompts().has_multi_turn()) {
      shard.mutable_multi_turn()->set_load_unit(load.load_unit());
    }
    shard.set_record_batch_size(kDefaultRecordBatchSize);
    shard.set_progress_interval_ms(kDefaultProgressIntervalMs);
    shards.push_back(std::move(shard));
  }
  return shards;
}

absl::StatusOr<std::vector<Shard>> ReassignRequests(
    const std::vector<llmbench::v1::IdRange>& unfinished, const Shard& failed,
    uint32_t worker_count, uint32_t next_shard_index, int64_t start_unix_ns) {
  if (worker_count == 0) return absl::InvalidArgumentError("no workers left to reassign to");
  // Sorted, merged ranges, each checked against the failed shard's ids.
  std::vector<llmbench::v1::IdRange> ranges;
  for (const llmbench::v1::IdRange& r : unfinished) {
    if (r.count() > 0) ranges.push_back(r);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const llmbench::v1::IdRange& a, const llmbench::v1::IdRange& b) {
              return a.first() < b.first();
            });
  std::vector<llmbench::v1::IdRange> merged;
  for (const llmbench::v1::IdRange& r : ranges) {
    if (!merged.empty() && r.first() <= merged.back().first() + merged.back().count()) {
      const uint64_t end = std::max(merged.back().first() + merged.back().count(),
                                    r.first() + r.count());
      merged.back().set_count(end - merged.back().first());
    } else {
      merged.push_back(r);
    }
  }
  const wire::ShardIds owned(failed);
  uint64_t total = 0;
  for (const llmbench::v1::IdRange& r : merged) {
    const uint64_t last = r.first() + r.count() - 1;
    const std::optional<uint64_t> a = owned.IndexOf(r.first());
    const std::optional<uint64_t> b = owned.IndexOf(last);
    if (!a || !b || *b < *a || *b - *a != r.count() - 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("request id ", a ? last : r.first(), " is not one of shard ",
                       failed.shard_index(), "'s request ids"));
    }
    total += r.count();
  }
  if (total == 0) return std::vector<Shard>{};
  uint64_t count = std::min<uint64_t>(worker_count, total);
  if (failed.load().has_concurrency()) {
    count = std::min<uint64_t>(
        count, std::max<uint32_t>(1, failed.load().concurrency().concurrency()));
  }
  const std::vector<double> weights(count, 1.0);
  const std::vector<uint64_t> id_parts = SplitProportionally(total, weights);
  std::vector<uint64_t> concurrency_parts;
  if (failed.load().has_concurrency()) {
    concurrency_parts = SplitProportionally(
        std::max<uint32_t>(1, failed.load().concurrency().concurrency()), weights);
  }
  std::vector<llmbench::v1::RateLoad> rates;
  if (failed.load().has_rate()) SplitRateLoad(failed.load().rate(), weights, &rates);

  std::vector<Shard> shards;
  size_t range = 0;       // merged[range] is being handed out
  uint64_t taken = 0;     // of it
  for (uint64_t k = 0; k < count; ++k) {
    Shard shard = failed;
    shard.set_shard_index(next_shard_index + static_cast<uint32_t>(k));
    shard.set_shard_count(next_shard_index + static_cast<uint32_t>(count));
    shard.clear_request_ids();
    shard.clear_request_ranges();
    for (uint64_t need = id_parts[k]; need > 0;) {
      const uint64_t n = std::min(need, merged[range].count() - taken);
      llmbench::v1::IdRange* out = shard.add_request_ranges();
      out->set_first(merged[range].first() + taken);
      out->set_count(n);
      need -= n;
      taken += n;
      if (taken == merged[range].count()) {
        ++range;
        taken = 0;
      }
    }
    shard.set_first_id(0);
    shard.set_id_stride(0);
    shard.set_warmup_requests(0);
    shard.set_warmup_seconds(0);
    shard.set_start_unix_ns(start_unix_ns);
    if (failed.load().has_concurrency()) {
      shard.mutable_load()->mutable_concurrency()->set_concurrency(
          static_cast<uint32_t>(concurrency_parts[k]));
    } else if (failed.load().has_rate()) {
      *shard.mutable_load()->mutable_rate() = rates[k];
    }
    shard.mutable_load()->set_seed(ShardSeed(failed.load().seed(), static_cast<uint32_t>(k)));
    shards.push_back(std::move(shard));
  }
  return shards;
}

}  // namespace llmbench::coordinator
