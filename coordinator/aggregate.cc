#include "coordinator/aggregate.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <span>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "coordinator/request_metrics.h"
#include "coordinator/resources.h"
#include "coordinator/scenario_defaults.h"

namespace llmbench::coordinator {

namespace {

constexpr double kNsPerMs = 1e6;
constexpr double kNsPerS = 1e9;
// Error classes 0..8 of the enum, plus one slot for values outside it.
constexpr size_t kErrorSlots = 10;
constexpr size_t kUnknownErrorSlot = kErrorSlots - 1;
// Inter-token gaps are kept as uint32 nanoseconds (0 to 4.29 s); longer or negative gaps go to
// a wide int64 side column. Both are multisets: order within a cell carries no meaning.
constexpr int64_t kMaxCompactGap = std::numeric_limits<uint32_t>::max();
constexpr double kPsPerMs = 1e9;

size_t ErrorSlot(v1::ErrorClass error_class) {
  const int value = static_cast<int>(error_class);
  if (value >= 0 && value < static_cast<int>(kUnknownErrorSlot)) return static_cast<size_t>(value);
  return kUnknownErrorSlot;
}

// Sums that must not depend on arrival order (and must not overflow into UB on hostile
// values): wrap-around unsigned addition is associative and commutative.
int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace

std::string_view ErrorClassName(v1::ErrorClass error_class) {
  switch (error_class) {
    case v1::ERROR_CLASS_NONE:
      return "none";
    case v1::ERROR_CLASS_CONNECT:
      return "connect";
    case v1::ERROR_CLASS_TIMEOUT:
      return "timeout";
    case v1::ERROR_CLASS_HTTP_4XX:
      return "http_4xx";
    case v1::ERROR_CLASS_HTTP_5XX:
      return "http_5xx";
    case v1::ERROR_CLASS_OVERLOADED:
      return "overloaded";
    case v1::ERROR_CLASS_STREAM_BROKEN:
      return "stream_broken";
    case v1::ERROR_CLASS_PARSE:
      return "parse";
    case v1::ERROR_CLASS_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

// The retained data of one (engine, worker) pair. Latency columns hold measured successes
// only; lateness holds every measured request that had a schedule.
struct Aggregator::Cell {
  struct ErrorSlotData {
    uint64_t count = 0;
    uint64_t example_request_id = 0;  // the lowest request_id of the class: order-independent
    std::string example_message;
  };

  std::string engine;
  std::string worker_id;

  uint64_t requests = 0;  // measured
  uint64_t warmup_requests = 0;
  uint64_t warmup_failures = 0;
  uint64_t over_max_tokens = 0;
  uint64_t successes = 0;
  uint64_t good = 0;  // successes meeting every SLO
  uint64_t output_tokens_total = 0;
  uint64_t input_tokens_total = 0;
  int64_t min_sent_ns = std::numeric_limits<int64_t>::max();
  int64_t max_end_ns = std::numeric_limits<int64_t>::min();
  int64_t sum_e2e_ns = 0;  // every measured request, for mean concurrency

  std::vector<int64_t> ttft_ns;
  std::vector<int64_t> e2e_ns;
  std::vector<int64_t> tpot_ps;  // picoseconds: (e2e - ttft) / (tokens - 1), rounded
  std::vector<uint32_t> output_tokens;
  std::vector<uint32_t> input_tokens;
  std::vector<int64_t> ttft_from_schedule_ns;
  std::vector<int64_t> e2e_from_schedule_ns;
  std::vector<int64_t> lateness_ns;
  std::vector<int64_t> dispatch_delay_ns;
  std::vector<int64_t> connect_ns;
  std::vector<uint32_t> itl_ns;
  std::vector<int64_t> itl_wide_ns;
  std::array<ErrorSlotData, kErrorSlots> errors;

  size_t Bytes() const {
    return ttft_ns.capacity() * 8 + e2e_ns.capacity() * 8 + tpot_ps.capacity() * 8 +
           output_tokens.capacity() * 4 + input_tokens.capacity() * 4 +
           ttft_from_schedule_ns.capacity() * 8 + e2e_from_schedule_ns.capacity() * 8 +
           lateness_ns.capacity() * 8 + dispatch_delay_ns.capacity() * 8 +
           connect_ns.capacity() * 8 + itl_ns.capacity() * 4 + itl_wide_ns.capacity() * 8;
  }
};

Aggregator::Aggregator(const v1::Slo& slo)
    : has_slo_(slo.has_ttft_ms() || slo.has_itl_ms() || slo.has_tpot_ms() || slo.has_e2e_ms()),
      slo_(slo),
      min_sent_ns_(std::numeric_limits<int64_t>::max()),
      max_end_ns_(std::numeric_limits<int64_t>::min()) {}

Aggregator::~Aggregator() = default;

size_t Aggregator::CellIndexFor(const v1::RequestRecord& record) {
  if (last_cell_ < cells_.size()) {
    const Cell& last = *cells_[last_cell_];
    if (last.worker_id == record.worker_id() && last.engine == record.engine()) return last_cell_;
  }
  auto it = cells_by_worker_.find(std::string_view(record.worker_id()));
  if (it != cells_by_worker_.end()) {
    for (const auto& [engine, index] : it->second) {
      if (engine == record.engine()) {
        last_cell_ = index;
        return index;
      }
    }
  }
  auto cell = std::make_unique<Cell>();
  cell->engine = record.engine();
  cell->worker_id = record.worker_id();
  const size_t index = cells_.size();
  const std::string_view engine_view(cell->engine);
  const std::string_view worker_view(cell->worker_id);
  cells_.push_back(std::move(cell));
  if (it == cells_by_worker_.end()) {
    it = cells_by_worker_.emplace(worker_view, std::vector<std::pair<std::string_view, size_t>>())
             .first;
  }
  it->second.emplace_back(engine_view, index);
  last_cell_ = index;
  return index;
}

void Aggregator::Add(const v1::RequestRecord& record) {
  ++completed_;
  if (record.has_session_id()) turns_.Add(record);
  if (record.warmup()) {
    ++warmup_;
    // The worker and engine still appear in the results, with their warm-up counts.
    Cell& cell = *cells_[CellIndexFor(record)];
    ++cell.warmup_requests;
    if (record.error_class() != v1::ERROR_CLASS_NONE) ++cell.warmup_failures;
    return;
  }
  Cell& cell = *cells_[CellIndexFor(record)];
  ++measured_;
  ++cell.requests;
  if (record.over_max_tokens()) ++cell.over_max_tokens;

  const int64_t sent = record.sent_ns();
  const int64_t end = record.end_ns();
  const int64_t e2e = end - sent;
  cell.min_sent_ns = std::min(cell.min_sent_ns, sent);
  cell.max_end_ns = std::max(cell.max_end_ns, end);
  min_sent_ns_ = std::min(min_sent_ns_, sent);
  max_end_ns_ = std::max(max_end_ns_, end);
  cell.sum_e2e_ns = WrapAdd(cell.sum_e2e_ns, e2e);
  const bool scheduled = record.has_scheduled_ns();
  if (scheduled) cell.lateness_ns.push_back(sent - record.scheduled_ns());
  if (record.has_dispatch_delay_ns()) {
    cell.dispatch_delay_ns.push_back(record.dispatch_delay_ns());
  }
  if (record.has_connect_ns()) cell.connect_ns.push_back(record.connect_ns());

  if (record.error_class() != v1::ERROR_CLASS_NONE) {
    Cell::ErrorSlotData& slot = cell.errors[ErrorSlot(record.error_class())];
    if (slot.count == 0 || record.request_id() < slot.example_request_id) {
      slot.example_request_id = record.request_id();
      slot.example_message = record.error_message();
    }
    ++slot.count;
    return;
  }

  ++successes_;
  ++cell.successes;
  const uint32_t output_tokens = record.output_tokens();
  output_tokens_ += output_tokens;
  cell.output_tokens_total += output_tokens;
  cell.output_tokens.push_back(output_tokens);
  if (record.has_input_tokens() || record.has_prompt_tokens_sent()) {
    const uint32_t input =
        record.has_input_tokens() ? record.input_tokens() : record.prompt_tokens_sent();
    cell.input_tokens_total += input;
    cell.input_tokens.push_back(input);
  }
  cell.e2e_ns.push_back(e2e);
  if (scheduled) cell.e2e_from_schedule_ns.push_back(end - record.scheduled_ns());

  std::optional<double> ttft_ms;
  std::optional<double> tpot_ms;
  if (const RequestMetrics m = MetricsOf(record); m.ttft_ns) {
    const int64_t ttft = *m.ttft_ns;
    cell.ttft_ns.push_back(ttft);
    ttft_ms = static_cast<double>(ttft) / kNsPerMs;
    ttft_ms_histogram_.Add(*ttft_ms);
    if (scheduled) cell.ttft_from_schedule_ns.push_back(record.first_token_ns() -
                                                        record.scheduled_ns());
    if (m.tpot_ns) {
      // In ps, from the same terms as RequestMetrics::tpot_ns (one division, then rounding).
      const int64_t tpot_ps = std::llround(static_cast<double>(e2e - ttft) * 1000.0 /
                                           static_cast<double>(output_tokens - 1));
      cell.tpot_ps.push_back(tpot_ps);
      tpot_ms = static_cast<double>(tpot_ps) / kPsPerMs;
    }
  }

  const auto& offsets = record.chunk_offsets_ns();
  const int chunks = offsets.size();
  if (chunks >= 2) {
    // Grow once, then write: no per-gap capacity check on the hot path.
    const size_t old_size = cell.itl_ns.size();
    cell.itl_ns.resize(old_size + static_cast<size_t>(chunks - 1));
    uint32_t* out = cell.itl_ns.data() + old_size;
    const int64_t* in = offsets.data();
    for (int i = 1; i < chunks; ++i) {
      const int64_t gap = in[i] - in[i - 1];
      if (gap >= 0 && gap <= kMaxCompactGap) [[likely]] {
        *out++ = static_cast<uint32_t>(gap);
      } else {
        cell.itl_wide_ns.push_back(gap);
      }
    }
    cell.itl_ns.resize(static_cast<size_t>(out - cell.itl_ns.data()));
  }

  if (has_slo_) {
    bool good = true;
    if (slo_.has_ttft_ms() && ttft_ms && *ttft_ms > slo_.ttft_ms()) good = false;
    if (slo_.has_e2e_ms() && static_cast<double>(e2e) / kNsPerMs > slo_.e2e_ms()) good = false;
    if (slo_.has_tpot_ms() && tpot_ms && *tpot_ms > slo_.tpot_ms()) good = false;
    if (slo_.has_itl_ms() && chunks >= 2) {
      const double mean_itl_ms = static_cast<double>(offsets[chunks - 1] - offsets[0]) /
                                 static_cast<double>(chunks - 1) / kNsPerMs;
      if (mean_itl_ms > slo_.itl_ms()) good = false;
    }
    if (good) ++cell.good;
  }
}

LiveSnapshot Aggregator::Snapshot() const {
  LiveSnapshot s;
  s.completed = completed_;
  s.warmup = warmup_;
  s.measured = measured_;
  s.successes = successes_;
  s.errors = measured_ - successes_;
  if (measured_ > 0 && max_end_ns_ > min_sent_ns_) {
    s.elapsed_s = static_cast<double>(max_end_ns_ - min_sent_ns_) / kNsPerS;
    s.requests_per_s = static_cast<double>(successes_) / s.elapsed_s;
    s.output_tokens_per_s = static_cast<double>(output_tokens_) / s.elapsed_s;
  }
  if (ttft_ms_histogram_.count() > 0) s.ttft_p50_ms = ttft_ms_histogram_.Quantile(0.5);
  return s;
}

void Aggregator::ResetLive() {
  completed_ = 0;
  warmup_ = 0;
  measured_ = 0;
  successes_ = 0;
  output_tokens_ = 0;
  min_sent_ns_ = std::numeric_limits<int64_t>::max();
  max_end_ns_ = std::numeric_limits<int64_t>::min();
  ttft_ms_histogram_ = LogHistogram();
}

size_t Aggregator::RetainedBytes() const {
  size_t bytes = 0;
  for (const auto& cell : cells_) bytes += cell->Bytes();
  return bytes;
}

namespace {

void SetDistribution(const SummaryStats& s, v1::Distribution* d) {
  d->set_count(s.count);
  d->set_mean(s.mean);
  d->set_stdev(s.stdev);
  d->set_min(s.min);
  d->set_p50(s.p50);
  d->set_p90(s.p90);
  d->set_p95(s.p95);
  d->set_p99(s.p99);
  d->set_p999(s.p999);
  d->set_max(s.max);
}

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 Uint128;

// Exact order statistics of the integer values a group's cells hold, without sorting or
// copying them (a sort of 64 M inter-token gaps takes seconds; this takes three linear passes):
//  1. min, max and the exact moments Σx (128-bit) and Σx² (128-bit, wrapping — exact for
//     |x| < 2^40 with up to 2^40 values);
//  2. a histogram of (x − min) >> shift over at most 65,536 buckets;
//  3. the values of the few buckets that hold a wanted rank, gathered and nth_element'ed.
// Percentiles are R-7 (SortedQuantile's formula on the same doubles), so they equal
// Summarize() of the same values exactly; mean and stdev come from the exact moments, so they
// do not depend on the order values arrived in (they may differ from Summarize()'s running
// double sums in the last bits). `for_each(fn)` calls fn(int64_t) for every value of the group;
// `scale` divides a value into the reported unit.
template <typename ForEach>
std::optional<SummaryStats> ExactStats(const ForEach& for_each, double scale) {
  uint64_t n = 0;
  int64_t min = std::numeric_limits<int64_t>::max();
  int64_t max = std::numeric_limits<int64_t>::min();
  Int128 sum = 0;
  Uint128 sum_sq = 0;
  for_each([&](int64_t v) {
    ++n;
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v;
    const Uint128 u = static_cast<Uint128>(static_cast<Int128>(v));
    sum_sq += u * u;
  });
  if (n == 0) return std::nullopt;

  SummaryStats s;
  s.count = n;
  const long double count = static_cast<long double>(n);
  const long double mean = static_cast<long double>(sum) / count;
  s.mean = static_cast<double>(mean / scale);
  if (n >= 2) {
    // Σ(x − mean)² = Σx² − (Σx)²/n, from exact integers: no order dependence.
    const long double ss = static_cast<long double>(static_cast<Int128>(sum_sq)) -
                           static_cast<long double>(sum) * mean;
    s.stdev = ss > 0 ? static_cast<double>(std::sqrt(ss / (count - 1)) / scale) : 0.0;
  }
  s.min = static_cast<double>(min) / scale;
  s.max = static_cast<double>(max) / scale;

  // The ranks R-7 interpolates between for each quantile.
  constexpr double kQuantiles[] = {0.50, 0.90, 0.95, 0.99, 0.999};
  std::vector<uint64_t> ranks;
  for (double q : kQuantiles) {
    const double h = static_cast<double>(n - 1) * q;
    const uint64_t lo = static_cast<uint64_t>(std::floor(h));
    ranks.push_back(lo);
    if (lo + 1 < n) ranks.push_back(lo + 1);
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());

  const uint64_t range = static_cast<uint64_t>(max) - static_cast<uint64_t>(min);
  const int width = std::bit_width(range);
  const int shift = std::max(0, width - 16);
  const size_t buckets = static_cast<size_t>(range >> shift) + 1;
  auto bucket_of = [&](int64_t v) {
    return static_cast<size_t>((static_cast<uint64_t>(v) - static_cast<uint64_t>(min)) >> shift);
  };
  std::vector<uint64_t> histogram(buckets, 0);
  for_each([&](int64_t v) { ++histogram[bucket_of(v)]; });

  // Which bucket holds each rank, and the rank's offset inside it.
  constexpr uint8_t kNotWanted = 0xFF;
  std::vector<uint8_t> wanted(buckets, kNotWanted);
  std::vector<size_t> wanted_buckets;
  std::vector<std::pair<size_t, uint64_t>> rank_at(ranks.size());  // (wanted index, offset)
  {
    uint64_t before = 0;
    size_t r = 0;
    for (size_t b = 0; b < buckets && r < ranks.size(); ++b) {
      while (r < ranks.size() && ranks[r] < before + histogram[b]) {
        if (wanted[b] == kNotWanted) {
          wanted[b] = static_cast<uint8_t>(wanted_buckets.size());
          wanted_buckets.push_back(b);
        }
        rank_at[r] = {wanted[b], ranks[r] - before};
        ++r;
      }
      before += histogram[b];
    }
  }
  std::vector<std::vector<int64_t>> gathered(wanted_buckets.size());
  for (size_t i = 0; i < wanted_buckets.size(); ++i) gathered[i].reserve(histogram[wanted_buckets[i]]);
  for_each([&](int64_t v) {
    const uint8_t w = wanted[bucket_of(v)];
    if (w != kNotWanted) gathered[w].push_back(v);
  });
  auto value_at_rank = [&](uint64_t rank) -> double {
    const size_t r = static_cast<size_t>(
        std::lower_bound(ranks.begin(), ranks.end(), rank) - ranks.begin());
    std::vector<int64_t>& g = gathered[rank_at[r].first];
    const auto nth = g.begin() + static_cast<std::ptrdiff_t>(rank_at[r].second);
    std::nth_element(g.begin(), nth, g.end());
    return static_cast<double>(*nth) / scale;
  };
  auto quantile = [&](double q) -> double {
    // As SortedQuantile().
    const double h = static_cast<double>(n - 1) * q;
    const double lo_h = std::floor(h);
    const uint64_t lo = static_cast<uint64_t>(lo_h);
    const double lo_v = value_at_rank(lo);
    if (lo + 1 >= n) return lo_v;
    return lo_v + (h - lo_h) * (value_at_rank(lo + 1) - lo_v);
  };
  s.p50 = quantile(0.50);
  s.p90 = quantile(0.90);
  s.p95 = quantile(0.95);
  s.p99 = quantile(0.99);
  s.p999 = quantile(0.999);
  return s;
}

// Sets `field` of `out` from a per-cell integer column; absent when the group has no values.
template <typename CellT, typename Column>
void SetColumnDistribution(std::span<const CellT* const> cells, Column CellT::*column,
                           double scale, v1::Distribution* (v1::Aggregates::*field)(),
                           v1::Aggregates* out) {
  auto for_each = [&](auto&& fn) {
    for (const CellT* c : cells) {
      for (auto v : c->*column) fn(static_cast<int64_t>(v));
    }
  };
  if (std::optional<SummaryStats> s = ExactStats(for_each, scale)) {
    SetDistribution(*s, (out->*field)());
  }
}

// Builds the Aggregates of a group of cells. Templated on the cell type so the private
// Aggregator::Cell stays private.
template <typename CellT>
v1::Aggregates BuildAggregates(std::span<const CellT* const> cells, bool has_slo) {
  v1::Aggregates a;
  uint64_t requests = 0, successes = 0, good = 0, out_total = 0, in_total = 0;
  int64_t min_sent = std::numeric_limits<int64_t>::max();
  int64_t max_end = std::numeric_limits<int64_t>::min();
  int64_t sum_e2e = 0;
  for (const CellT* c : cells) {
    requests += c->requests;
    successes += c->successes;
    good += c->good;
    out_total += c->output_tokens_total;
    in_total += c->input_tokens_total;
    if (c->requests > 0) {
      min_sent = std::min(min_sent, c->min_sent_ns);
      max_end = std::max(max_end, c->max_end_ns);
    }
    sum_e2e = WrapAdd(sum_e2e, c->sum_e2e_ns);
  }
  a.set_requests(requests);
  a.set_successes(successes);
  a.set_failures(requests - successes);
  if (requests > 0) {
    a.set_success_rate(static_cast<double>(successes) / static_cast<double>(requests));
  }
  for (size_t slot = 1; slot < kErrorSlots; ++slot) {
    uint64_t count = 0;
    uint64_t example_id = 0;
    const std::string* example = nullptr;
    for (const CellT* c : cells) {
      const auto& e = c->errors[slot];
      if (e.count == 0) continue;
      if (count == 0 || e.example_request_id < example_id ||
          (e.example_request_id == example_id && e.example_message < *example)) {
        example_id = e.example_request_id;
        example = &e.example_message;
      }
      count += e.count;
    }
    if (count == 0) continue;
    v1::ErrorCount* ec = a.add_errors();
    ec->set_error_class(std::string(
        slot == kUnknownErrorSlot ? "unknown" : ErrorClassName(static_cast<v1::ErrorClass>(slot))));
    ec->set_count(count);
    ec->set_example_message(*example);
  }

  // One metric at a time; each needs only its histogram and a few buckets' values.
  using A = v1::Aggregates;
  SetColumnDistribution(cells, &CellT::ttft_ns, kNsPerMs, &A::mutable_ttft_ms, &a);
  {
    auto for_each_gap = [&](auto&& fn) {
      for (const CellT* c : cells) {
        for (uint32_t v : c->itl_ns) fn(static_cast<int64_t>(v));
        for (int64_t v : c->itl_wide_ns) fn(v);
      }
    };
    if (std::optional<SummaryStats> s = ExactStats(for_each_gap, kNsPerMs)) {
      SetDistribution(*s, a.mutable_itl_ms());
    }
  }
  SetColumnDistribution(cells, &CellT::tpot_ps, kPsPerMs, &A::mutable_tpot_ms, &a);
  SetColumnDistribution(cells, &CellT::e2e_ns, kNsPerMs, &A::mutable_e2e_ms, &a);
  SetColumnDistribution(cells, &CellT::output_tokens, 1.0, &A::mutable_output_tokens, &a);
  SetColumnDistribution(cells, &CellT::input_tokens, 1.0, &A::mutable_input_tokens, &a);
  SetColumnDistribution(cells, &CellT::ttft_from_schedule_ns, kNsPerMs,
                        &A::mutable_ttft_from_schedule_ms, &a);
  SetColumnDistribution(cells, &CellT::e2e_from_schedule_ns, kNsPerMs,
                        &A::mutable_e2e_from_schedule_ms, &a);
  SetColumnDistribution(cells, &CellT::lateness_ns, kNsPerMs, &A::mutable_schedule_lateness_ms,
                        &a);
  SetColumnDistribution(cells, &CellT::dispatch_delay_ns, kNsPerMs, &A::mutable_dispatch_delay_ms,
                        &a);
  SetColumnDistribution(cells, &CellT::connect_ns, kNsPerMs, &A::mutable_connect_ms, &a);

  a.set_output_tokens_total(out_total);
  a.set_input_tokens_total(in_total);
  uint64_t warmup_requests = 0;
  uint64_t warmup_failures = 0;
  uint64_t over_max_tokens = 0;
  for (const CellT* c : cells) {
    warmup_requests += c->warmup_requests;
    warmup_failures += c->warmup_failures;
    over_max_tokens += c->over_max_tokens;
  }
  a.set_warmup_requests(warmup_requests);
  a.set_warmup_failures(warmup_failures);
  a.set_over_max_tokens(over_max_tokens);
  if (requests > 0 && max_end > min_sent) {
    const double window_s = static_cast<double>(max_end - min_sent) / kNsPerS;
    a.set_measured_window_s(window_s);
    a.set_request_throughput(static_cast<double>(successes) / window_s);
    a.set_input_token_throughput(static_cast<double>(in_total) / window_s);
    a.set_output_token_throughput(static_cast<double>(out_total) / window_s);
    a.set_total_token_throughput(static_cast<double>(in_total + out_total) / window_s);
    a.set_mean_concurrency(static_cast<double>(sum_e2e) / kNsPerS / window_s);
    if (has_slo) a.set_goodput(static_cast<double>(good) / window_s);
  }
  if (has_slo && requests > 0) {
    a.set_slo_attainment(static_cast<double>(good) / static_cast<double>(requests));
  }
  return a;
}

}  // namespace

double LoopWindowLoad(const v1::LoopWindow& w) {
  return w.has_runq_wait() ? w.cpu() + w.runq_wait() : w.busy();
}

bool LoopWindowSaturated(const v1::LoopWindow& w) {
  return LoopWindowLoad(w) >= kSaturatedLoopLoad || w.length_s() >= kLateLoopWindowS;
}

namespace {

// Folds a worker's loop windows into `a`: the busiest window and the saturated count (and the
// windows themselves, which the caller clears for the overall aggregates).
void AddLoopWindows(const WorkerReport& w, v1::Aggregates* a) {
  for (const v1::LoopWindow& window : w.loop_windows) {
    v1::LoopWindow named = window;
    named.set_worker_id(w.worker_id);
    const double load = LoopWindowLoad(named);
    if (LoopWindowSaturated(named)) {
      a->set_saturated_loop_windows(a->saturated_loop_windows() + 1);
    }
    if (!a->has_busiest_loop_window() || load > LoopWindowLoad(a->busiest_loop_window())) {
      *a->mutable_busiest_loop_window() = named;
    }
    *a->add_loop_windows() = std::move(named);
  }
}

std::string DescribeLoopWindow(const v1::LoopWindow& w) {
  std::string s = absl::StrFormat("loop %d, %.1f-%.1f s into the run: busy %.0f%%, CPU %.0f%%",
                                  w.loop(), w.t_s(), w.t_s() + w.length_s(), 100 * w.busy(),
                                  100 * w.cpu());
  if (w.has_runq_wait()) {
    absl::StrAppendFormat(&s, ", waiting for a CPU %.0f%%", 100 * w.runq_wait());
  }
  return s;
}

}  // namespace

v1::RunResult Aggregator::Finish(const FinishOptions& options) const {
  v1::RunResult result;

  std::vector<const Cell*> all;
  all.reserve(cells_.size());
  for (const auto& c : cells_) all.push_back(c.get());
  *result.mutable_overall() = BuildAggregates<Cell>(all, has_slo_);

  // Engines: scenario order, then the others by name.
  std::vector<std::string> engines = options.engine_names;
  {
    std::vector<std::string> extra;
    for (const Cell* c : all) {
      if (std::find(engines.begin(), engines.end(), c->engine) == engines.end() &&
          std::find(extra.begin(), extra.end(), c->engine) == extra.end()) {
        extra.push_back(c->engine);
      }
    }
    std::sort(extra.begin(), extra.end());
    engines.insert(engines.end(), extra.begin(), extra.end());
  }
  for (const std::string& engine : engines) {
    std::vector<const Cell*> group;
    for (const Cell* c : all) {
      if (c->engine == engine) group.push_back(c);
    }
    v1::EngineResult* er = result.add_engines();
    er->set_engine(engine);
    *er->mutable_aggregates() = BuildAggregates<Cell>(group, has_slo_);
    if (std::optional<v1::MultiTurnReport> turns = turns_.Report(engine)) {
      *er->mutable_multi_turn() = *std::move(turns);
    }
    v1::Aggregates* a = er->mutable_aggregates();
    if (auto planned = options.planned_requests.find(engine);
        planned != options.planned_requests.end()) {
      a->set_requests_planned(planned->second);
      a->set_requests_not_run(planned->second > a->requests() ? planned->second - a->requests()
                                                              : 0);
    }
  }
  {
    // The run's plan and what it did not run: the sums over its engines.
    v1::Aggregates* overall = result.mutable_overall();
    bool all_planned = result.engines_size() > 0;
    uint64_t planned = 0;
    uint64_t not_run = 0;
    for (const v1::EngineResult& er : result.engines()) {
      all_planned = all_planned && er.aggregates().has_requests_planned();
      planned += er.aggregates().requests_planned();
      not_run += er.aggregates().requests_not_run();
    }
    if (all_planned) overall->set_requests_planned(planned);
    overall->set_requests_not_run(not_run);
  }

  // Workers: dispatch order, then the others by id.
  std::vector<WorkerReport> workers = options.workers;
  {
    std::vector<std::string> extra;
    for (const Cell* c : all) {
      const bool known = std::any_of(workers.begin(), workers.end(), [&](const WorkerReport& w) {
        return w.worker_id == c->worker_id;
      });
      if (!known && std::find(extra.begin(), extra.end(), c->worker_id) == extra.end()) {
        extra.push_back(c->worker_id);
      }
    }
    std::sort(extra.begin(), extra.end());
    for (std::string& id : extra) {
      WorkerReport w;
      w.worker_id = std::move(id);
      workers.push_back(std::move(w));
    }
  }
  for (const WorkerReport& w : workers) {
    std::vector<const Cell*> group;
    for (const Cell* c : all) {
      if (c->worker_id == w.worker_id) group.push_back(c);
    }
    v1::WorkerResult* wr = result.add_workers();
    wr->set_worker_id(w.worker_id);
    wr->set_address(w.address);
    *wr->mutable_aggregates() = BuildAggregates<Cell>(group, has_slo_);
    wr->set_failed(w.failed);
    wr->set_failure(w.failure);
    if (w.cpu_utilization) wr->set_cpu_utilization(*w.cpu_utilization);
    wr->set_records_dropped(w.records_dropped);
    wr->set_failed_at_unix_ns(w.failed_at_unix_ns);
    wr->set_requests_reassigned(w.requests_reassigned);
    wr->set_requests_lost(w.requests_lost);
    wr->set_duplicate_records(w.duplicate_records);
    wr->set_failure_backoffs(w.failure_backoffs);
    wr->set_invalid_records(w.invalid_records);
    wr->set_invalid_example(w.invalid_example);
    if (w.resources) *wr->mutable_resources() = *w.resources;
    AddLoopWindows(w, wr->mutable_aggregates());
    AddLoopWindows(w, result.mutable_overall());
    result.mutable_overall()->clear_loop_windows();  // per worker only
  }

  *result.mutable_verdict() = ComputeVerdict(result, options.thresholds, options.conditions);
  for (v1::MetricDefinition& d : MetricDefinitions()) *result.add_definitions() = std::move(d);
  return result;
}

std::vector<std::string> ThresholdsCrossed(const v1::RunResult& result,
                                           const v1::Thresholds& thresholds) {
  std::vector<std::string> crossed;
  const double max_error_rate =
      thresholds.has_max_error_rate() ? thresholds.max_error_rate() : kDefaultMaxErrorRate;
  // Per engine (one engine's total failure must not hide behind another's successes); a
  // result without engine rows (written by hand) is judged on its overall row.
  std::vector<std::pair<std::string, const v1::Aggregates*>> groups;
  for (const v1::EngineResult& e : result.engines()) groups.emplace_back(e.engine(), &e.aggregates());
  if (groups.empty()) groups.emplace_back("", &result.overall());
  for (const auto& [engine, a] : groups) {
    const std::string who = engine.empty() ? "the run" : absl::StrCat("engine ", engine);
    const uint64_t attempted = a->requests() + a->requests_not_run();
    if (attempted == 0) {
      crossed.push_back(absl::StrCat(who, ": no request was measured"));
      continue;
    }
    const uint64_t failed = a->failures() + a->requests_not_run();
    const double error_rate = static_cast<double>(failed) / static_cast<double>(attempted);
    if (error_rate > max_error_rate) {
      std::string not_run;
      if (a->requests_not_run() > 0) {
        not_run = absl::StrFormat(", %d never ran", a->requests_not_run());
      }
      crossed.push_back(absl::StrFormat(
          "%s: error rate %.2f%% (%d failed%s, of %d) > max_error_rate %.2f%%", who,
          100 * error_rate, a->failures(), not_run, attempted, 100 * max_error_rate));
    }
    if (thresholds.has_min_slo_attainment() && a->has_slo_attainment() &&
        a->slo_attainment() < thresholds.min_slo_attainment()) {
      crossed.push_back(absl::StrFormat("%s: SLO attainment %.2f%% < min_slo_attainment %.2f%%",
                                        who, 100 * a->slo_attainment(),
                                        100 * thresholds.min_slo_attainment()));
    }
  }
  return crossed;
}

int ExitStatusForVerdict(const v1::Verdict& verdict, int stop_signal, std::string* reason) {
  std::string why;
  int status = kExitOk;
  if (stop_signal > 0) {
    status = 128 + stop_signal;
    why = absl::StrCat("stopped by ", SignalName(stop_signal), ": partial results");
  } else if (verdict.state() == v1::Verdict::STATE_INTERRUPTED) {
    status = 128 + SIGINT;
    why = "interrupted: partial results";
  } else if (verdict.state() == v1::Verdict::STATE_ENGINE_DOWN) {
    status = kExitEngineDown;
    why = absl::StrCat("ENGINE_DOWN: ", absl::StrJoin(verdict.reasons(), "; "));
  } else if (verdict.state() == v1::Verdict::STATE_INVALID) {
    status = kExitInvalid;
    why = absl::StrCat("the run is INVALID: ", absl::StrJoin(verdict.reasons(), "; "));
  } else if (!verdict.thresholds_crossed().empty()) {
    status = kExitThresholds;
    why = absl::StrCat("threshold crossed: ", absl::StrJoin(verdict.thresholds_crossed(), "; "));
  }
  if (reason != nullptr) *reason = std::move(why);
  return status;
}

v1::Verdict ComputeVerdict(const v1::RunResult& result, const v1::Thresholds& thresholds,
                           const RunConditions& conditions) {
  const double max_lateness = thresholds.has_max_lateness_p99_ms()
                                  ? thresholds.max_lateness_p99_ms()
                                  : kDefaultMaxLatenessP99Ms;
  const double max_dispatch = thresholds.has_max_dispatch_delay_p99_ms()
                                   ? thresholds.max_dispatch_delay_p99_ms()
                                   : kDefaultMaxDispatchDelayP99Ms;
  std::vector<std::string> invalid;
  std::vector<std::string> degraded;
  if (result.overall().has_dispatch_delay_ms() &&
      result.overall().dispatch_delay_ms().p99() > max_dispatch) {
    std::string reason = absl::StrFormat(
        "the client was late sending requests: dispatch delay p99 %.3f ms > %.3f ms",
        result.overall().dispatch_delay_ms().p99(), max_dispatch);
    if (result.overall().has_connect_ms() && result.overall().connect_ms().p99() > max_dispatch) {
      // Say where it went when opening connections took that long.
      absl::StrAppendFormat(&reason,
                            " (connection set-up p99 %.3f ms: the engine's accept queue, the "
                            "network or the client's connects)",
                            result.overall().connect_ms().p99());
    }
    invalid.push_back(std::move(reason));
  }
  for (const v1::WorkerResult& w : result.workers()) {
    if (result.workers_size() > 1 && w.aggregates().has_dispatch_delay_ms() &&
        w.aggregates().dispatch_delay_ms().p99() > max_dispatch) {
      invalid.push_back(absl::StrFormat(
          "worker %s was late sending requests: dispatch delay p99 %.3f ms > %.3f ms",
          w.worker_id(), w.aggregates().dispatch_delay_ms().p99(), max_dispatch));
    }
    if (w.aggregates().saturated_loop_windows() > 0) {
      // Name the first saturated window and the worst one.
      const v1::LoopWindow* first = nullptr;
      for (const v1::LoopWindow& lw : w.aggregates().loop_windows()) {
        if (LoopWindowSaturated(lw) && (first == nullptr || lw.t_s() < first->t_s())) {
          first = &lw;
        }
      }
      std::string reason = absl::StrFormat(
          "worker %s's event loop was saturated in %d 1 s window(s) (CPU + waiting for a CPU >= "
          "%.0f%%, or its 1 s timer %.0f ms late)",
          w.worker_id(), w.aggregates().saturated_loop_windows(), 100 * kSaturatedLoopLoad,
          1000 * (kLateLoopWindowS - 1));
      if (first != nullptr) absl::StrAppend(&reason, "; first: ", DescribeLoopWindow(*first));
      absl::StrAppend(&reason, "; worst: ", DescribeLoopWindow(w.aggregates().busiest_loop_window()));
      invalid.push_back(std::move(reason));
    }
  }
  if (result.overall().has_schedule_lateness_ms() &&
      result.overall().schedule_lateness_ms().p99() > max_lateness) {
    invalid.push_back(absl::StrFormat(
        "generator fell behind its schedule: schedule lateness p99 %.3f ms > %.3f ms",
        result.overall().schedule_lateness_ms().p99(), max_lateness));
  }
  for (const v1::WorkerResult& w : result.workers()) {
    if (result.workers_size() > 1 && w.aggregates().has_schedule_lateness_ms() &&
        w.aggregates().schedule_lateness_ms().p99() > max_lateness) {
      invalid.push_back(absl::StrFormat(
          "worker %s fell behind its schedule: schedule lateness p99 %.3f ms > %.3f ms",
          w.worker_id(), w.aggregates().schedule_lateness_ms().p99(), max_lateness));
    }
    if (w.has_cpu_utilization() && w.cpu_utilization() >= kSaturatedCpuUtilization) {
      invalid.push_back(absl::StrFormat(
          "worker %s is saturated: CPU utilization %.2f per core >= %.2f", w.worker_id(),
          w.cpu_utilization(), kSaturatedCpuUtilization));
    }
    if (w.failed()) {
      std::string when;
      if (w.failed_at_unix_ns() > 0 && result.started_unix_ns() > 0) {
        when = absl::StrFormat(" %.1f s into the run",
                               (w.failed_at_unix_ns() - result.started_unix_ns()) / 1e9);
      }
      std::string reason =
          absl::StrFormat("worker %s failed%s: %s", w.worker_id(), when, w.failure());
      if (w.requests_reassigned() > 0) {
        absl::StrAppendFormat(&reason, "; %d unfinished requests reassigned",
                              w.requests_reassigned());
      }
      if (w.requests_lost() > 0) {
        absl::StrAppendFormat(&reason, "; %d requests lost (no healthy worker left)",
                              w.requests_lost());
      }
      degraded.push_back(std::move(reason));
    }
    if (w.invalid_records() > 0) {
      invalid.push_back(absl::StrFormat(
          "worker %s sent %d records that cannot belong to its shard (e.g. %s): not counted",
          w.worker_id(), w.invalid_records(), w.invalid_example()));
    }
    if (w.records_dropped() > 0) {
      degraded.push_back(
          absl::StrFormat("worker %s dropped %d records", w.worker_id(), w.records_dropped()));
    }
  }
  std::vector<std::string> interrupted;
  if (conditions.stop_signal > 0) {
    interrupted.push_back(absl::StrCat("stopped by ", SignalName(conditions.stop_signal),
                                       " before the workload finished: partial results"));
  }
  v1::Verdict verdict;
  for (std::string& r : SaturatedHostReasons(result)) verdict.add_warnings(std::move(r));
  for (const v1::EngineResult& e : result.engines()) {
    if (e.aggregates().over_max_tokens() > 0) {
      verdict.add_warnings(absl::StrFormat(
          "engine %s streamed past max_tokens (%d) on %d requests: it ignores the limit, so "
          "E2E and throughput include tokens nobody asked for",
          e.engine(), result.scenario().generation().max_tokens(),
          e.aggregates().over_max_tokens()));
    }
    if (e.aggregates().warmup_failures() > 0) {
      verdict.add_warnings(absl::StrFormat(
          "engine %s: %d of %d warm-up requests failed (not counted; the engine may not have "
          "been ready when measuring began)",
          e.engine(), e.aggregates().warmup_failures(), e.aggregates().warmup_requests()));
    }
  }
  if (!conditions.engines_down.empty()) {
    verdict.set_state(v1::Verdict::STATE_ENGINE_DOWN);
  } else if (!invalid.empty()) {
    verdict.set_state(v1::Verdict::STATE_INVALID);
  } else if (!interrupted.empty()) {
    verdict.set_state(v1::Verdict::STATE_INTERRUPTED);
  } else if (!degraded.empty() || !conditions.degraded.empty()) {
    verdict.set_state(v1::Verdict::STATE_DEGRADED);
  } else {
    verdict.set_state(v1::Verdict::STATE_VALID);
  }
  for (const std::string& r : conditions.engines_down) verdict.add_reasons(r);
  for (std::string& r : invalid) verdict.add_reasons(std::move(r));
  for (std::string& r : interrupted) verdict.add_reasons(std::move(r));
  for (std::string& r : degraded) verdict.add_reasons(std::move(r));
  for (const std::string& r : conditions.degraded) verdict.add_reasons(r);
  for (std::string& r : ThresholdsCrossed(result, thresholds)) {
    verdict.add_thresholds_crossed(std::move(r));
  }
  std::string exit_reason;
  verdict.set_exit_status(ExitStatusForVerdict(verdict, conditions.stop_signal, &exit_reason));
  verdict.set_exit_reason(std::move(exit_reason));
  return verdict;
}

std::string SignalName(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT (Ctrl-C)";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return absl::StrCat("signal ", signal);
  }
}

std::vector<v1::MetricDefinition> MetricDefinitions() {
  struct Def {
    const char* name;
    const char* unit;
    const char* definition;
  };
  static constexpr Def kDefs[] = {
      {"requests", "count", "Measured (non-warm-up) requests that completed or failed."},
      {"successes", "count", "Measured requests with error class none."},
      {"failures", "count", "Measured requests with an error class other than none."},
      {"success_rate", "fraction", "successes / requests."},
      {"errors", "count",
       "Failures by error class (connect, timeout, http_4xx, http_5xx, overloaded, "
       "stream_broken, parse, cancelled), each with the message of its lowest request_id."},
      {"ttft_ms", "ms",
       "Time to first token: first_token - sent, where first_token is the arrival of the first "
       "content-bearing chunk. Successful measured requests that streamed at least one."},
      {"itl_ms", "ms",
       "Inter-token latency: every gap between consecutive content-bearing chunks of a request "
       "(chunk i minus chunk i-1, i >= 1), pooled over all successful measured requests. "
       "A chunk may carry several tokens; gaps are per chunk, not divided by tokens."},
      {"tpot_ms", "ms",
       "Time per output token, per request: (e2e - ttft) / (output_tokens - 1), for successful "
       "measured requests with output_tokens >= 2 and a first token."},
      {"e2e_ms", "ms", "End-to-end latency: end - sent (last byte). Successful measured requests."},
      {"output_tokens", "tokens",
       "Output tokens per successful request: engine-reported where available, else counted "
       "content chunks (the record's output_token_source says which)."},
      {"input_tokens", "tokens",
       "Input tokens per successful request: engine-reported where available, else the count "
       "the client intended to send."},
      {"ttft_from_schedule_ms", "ms",
       "Open loop only: first_token - scheduled, the response time a user behind the queue sees "
       "(includes the generator's own lateness; corrects coordinated omission)."},
      {"e2e_from_schedule_ms", "ms", "Open loop only: end - scheduled."},
      {"dispatch_delay_ms", "ms",
       "The client's own delay per measured request that was sent: sent - scheduled (open loop) "
       "or sent - handed over to the transport (closed loop), where sent is when the request's "
       "bytes were written to the socket. Its p99 over thresholds.max_dispatch_delay_p99_ms "
       "(default 5 ms) makes the run INVALID."},
      {"connect_ms", "ms",
       "Connection set-up of the measured requests that opened a new connection (connect() until "
       "the socket was writable); part of their dispatch delay."},
      {"loop_windows", "fraction",
       "Per worker, per event-loop thread and ~1 s window: busy (time outside epoll_wait), cpu "
       "(thread CPU time) and runq_wait (time runnable but waiting for a CPU), each / window. A "
       "window whose cpu + runq_wait (busy where the kernel gives no run-queue figure) is >= 0.95 "
       "is saturated and makes the run INVALID: the loop had no time to spare, so the times it "
       "stamped may be late."},
      {"schedule_lateness_ms", "ms",
       "Open loop only: sent - scheduled, the generator's own delay, for every measured request "
       "(failures included)."},
      {"measured_window_s", "s",
       "From the earliest sent of a measured request to the latest end of a measured request "
       "(warm-up excluded), within the group."},
      {"request_throughput", "requests/s", "successes / measured_window_s."},
      {"input_token_throughput", "tokens/s",
       "Input tokens of successful measured requests / measured_window_s."},
      {"output_token_throughput", "tokens/s",
       "Output tokens of successful measured requests / measured_window_s."},
      {"total_token_throughput", "tokens/s",
       "(input + output tokens of successful measured requests) / measured_window_s."},
      {"goodput", "requests/s",
       "Only with SLOs: successful measured requests meeting every SLO given (ttft_ms, tpot_ms "
       "and e2e_ms per request; itl_ms against the request's mean gap (last chunk - first "
       "chunk) / (chunks - 1)), per second of measured_window_s. A request meets an SLO on a "
       "metric it lacks (no first token, < 2 output tokens, < 2 chunks)."},
      {"slo_attainment", "fraction",
       "Only with SLOs: requests meeting every SLO / measured requests (failures count as "
       "misses)."},
      {"mean_concurrency", "requests",
       "Time-averaged requests in flight: sum of e2e of every measured request (failures "
       "included) / measured_window_s."},
      {"output_tokens_total", "tokens", "Output tokens of successful measured requests."},
      {"input_tokens_total", "tokens", "Input tokens of successful measured requests."},
      {"percentiles", "-",
       "Every distribution reports count, mean, sample stdev (n-1), min, p50, p90, p95, p99, "
       "p99.9 and max, exact over all values (no histogram), with linear interpolation between "
       "closest ranks (R-7, NumPy's default): h = (n-1)q, x[floor h] + (h - floor h)(x[floor "
       "h + 1] - x[floor h])."},
  };
  std::vector<v1::MetricDefinition> out;
  out.reserve(std::size(kDefs));
  for (const Def& d : kDefs) {
    v1::MetricDefinition m;
    m.set_name(d.name);
    m.set_unit(d.unit);
    m.set_definition(d.definition);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace llmbench::coordinator
