#include "coordinator/sweep.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace llmbench::coordinator {

v1::SweepPoint PointFromResult(const v1::RunResult& result, std::string_view engine,
                               double offered_rps) {
  v1::SweepPoint point;
  point.set_offered_rps(offered_rps);
  point.set_verdict(result.verdict().state());
  for (const v1::EngineResult& e : result.engines()) {
    if (e.engine() != engine) continue;
    const v1::Aggregates& a = e.aggregates();
    point.set_requests(a.requests());
    point.set_achieved_rps(a.request_throughput());
    if (a.requests() > 0) {
      point.set_error_rate(static_cast<double>(a.failures()) / static_cast<double>(a.requests()));
    }
    if (a.has_ttft_ms()) {
      point.set_ttft_p50_ms(a.ttft_ms().p50());
      point.set_ttft_p99_ms(a.ttft_ms().p99());
    }
    if (a.has_e2e_ms()) {
      point.set_e2e_p50_ms(a.e2e_ms().p50());
      point.set_e2e_p99_ms(a.e2e_ms().p99());
    }
    if (a.has_slo_attainment()) point.set_slo_attainment(a.slo_attainment());
  }
  return point;
}

void MeasureSendingWindow(std::span<const int64_t> sent_ns, std::span<const int64_t> end_ns,
                          v1::SweepPoint* point) {
  const size_t n = std::min(sent_ns.size(), end_ns.size());
  if (n < kMinWindowRequests) return;
  std::vector<std::pair<int64_t, int64_t>> requests;  // (sent, end) in send order
  requests.reserve(n);
  for (size_t i = 0; i < n; ++i) requests.emplace_back(sent_ns[i], end_ns[i]);
  std::sort(requests.begin(), requests.end());
  const double window_s =
      static_cast<double>(requests.back().first - requests.front().first) / 1e9;
  if (window_s <= 0) return;
  // Evenly spaced in send order, first and last kept.
  std::vector<std::pair<double, double>> used;  // seconds from the first send
  const size_t m = std::min(n, kMaxSlopeRequests);
  used.reserve(m);
  for (size_t k = 0; k < m; ++k) {
    const auto& r = requests[m == n ? k : k * (n - 1) / (m - 1)];
    used.emplace_back(static_cast<double>(r.first - requests.front().first) / 1e9,
                      static_cast<double>(r.second - requests.front().first) / 1e9);
  }
  std::vector<double> slopes;
  slopes.reserve(m * (m - 1) / 2);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = i + 1; j < m; ++j) {
      const double dx = used[j].first - used[i].first;
      if (dx > 0) slopes.push_back((used[j].second - used[i].second) / dx);
    }
  }
  if (slopes.empty()) return;
  // The median (the mean of the two middle values for an even count).
  const size_t mid = slopes.size() / 2;
  std::nth_element(slopes.begin(), slopes.begin() + static_cast<ptrdiff_t>(mid), slopes.end());
  double slope = slopes[mid];
  if (slopes.size() % 2 == 0) {
    slope = (slope + *std::max_element(slopes.begin(),
                                       slopes.begin() + static_cast<ptrdiff_t>(mid))) / 2;
  }
  if (!(slope > 0)) return;
  const double send_rps = static_cast<double>(n - 1) / window_s;
  point->set_sending_window_s(window_s);
  point->set_send_rps(send_rps);
  point->set_completion_slope(slope);
  point->set_sustained_rps(send_rps / slope);
}

std::string SweepJudgedOn(const SweepCriteria& criteria, bool has_slo) {
  std::string latency =
      has_slo ? absl::StrFormat("SLO attainment >= %.0f%%", 100 * criteria.min_slo_attainment)
              : absl::StrFormat("E2E p50 <= %.1fx the first probe's",
                                criteria.max_latency_growth);
  return absl::StrFormat(
      "sustained req/s (completions per second while sending, drain excluded: send rate / "
      "slope of end time over send time) >= %.0f%% of offered (achieved req/s with fewer than "
      "%d successes); error rate <= %.1f%%; %s; verdict not INVALID",
      100 * criteria.min_throughput_ratio, kMinWindowRequests, 100 * criteria.max_error_rate,
      latency);
}

void JudgeProbe(const SweepCriteria& criteria, bool has_slo,
                std::optional<double> baseline_e2e_p50_ms, v1::SweepPoint* point) {
  std::string reason;
  const double offered = point->offered_rps();
  if (point->verdict() == v1::Verdict::STATE_INVALID) {
    reason = "verdict INVALID (the generator fell behind)";
  } else if (point->requests() == 0 || point->error_rate() >= 1.0) {
    reason = "no successful request";
  } else if (point->error_rate() > criteria.max_error_rate) {
    reason = absl::StrFormat("error rate %.1f%% > %.1f%%", 100 * point->error_rate(),
                             100 * criteria.max_error_rate);
  } else if (point->has_sustained_rps() &&
             point->sustained_rps() < criteria.min_throughput_ratio * offered) {
    reason = absl::StrFormat(
        "sustained %.2f req/s < %.0f%% of offered (completions fell behind: end/send slope %.2f)",
        point->sustained_rps(), 100 * criteria.min_throughput_ratio, point->completion_slope());
  } else if (!point->has_sustained_rps() &&
             point->achieved_rps() < criteria.min_throughput_ratio * offered) {
    reason = absl::StrFormat(
        "achieved %.2f req/s < %.0f%% of offered (fewer than %d successes: judged over the "
        "whole window, drain included)",
        point->achieved_rps(), 100 * criteria.min_throughput_ratio, kMinWindowRequests);
  } else if (has_slo && point->has_slo_attainment() &&
             point->slo_attainment() < criteria.min_slo_attainment) {
    reason = absl::StrFormat("SLO attainment %.1f%% < %.0f%%", 100 * point->slo_attainment(),
                             100 * criteria.min_slo_attainment);
  } else if (!has_slo && baseline_e2e_p50_ms.has_value() && point->has_e2e_p50_ms() &&
             point->e2e_p50_ms() > criteria.max_latency_growth * *baseline_e2e_p50_ms) {
    reason = absl::StrFormat("E2E p50 %.1f ms > %.1fx the first probe's %.1f ms",
                             point->e2e_p50_ms(), criteria.max_latency_growth,
                             *baseline_e2e_p50_ms);
  }
  point->set_good(reason.empty());
  point->set_reason(reason);
}

absl::StatusOr<v1::SweepResult> RunSweepSearch(const v1::SweepLoad& sweep,
                                               const SweepCriteria& criteria, bool has_slo,
                                               const SweepProbe& probe) {
  v1::SweepResult result;
  result.set_judged_on(SweepJudgedOn(criteria, has_slo));
  std::optional<double> baseline;
  std::optional<double> good_rps, bad_rps;
  int index = 0;
  auto run = [&](double rps, std::string_view phase) -> absl::StatusOr<bool> {
    absl::StatusOr<v1::SweepPoint> point = probe(rps, phase, index++);
    if (!point.ok()) return point.status();
    point->set_offered_rps(rps);
    point->set_phase(std::string(phase));
    JudgeProbe(criteria, has_slo, baseline, &*point);
    if (!baseline.has_value() && point->has_e2e_p50_ms()) baseline = point->e2e_p50_ms();
    const bool good = point->good();
    *result.add_points() = *std::move(point);
    return good;
  };
  // 1. Step up geometrically until a probe fails or max_rps passes.
  const double factor = sweep.step_factor() > 1 ? sweep.step_factor() : 2.0;
  double rps = sweep.start_rps();
  while (true) {
    absl::StatusOr<bool> good = run(rps, "step");
    if (!good.ok()) return good.status();
    if (!*good) {
      bad_rps = rps;
      break;
    }
    good_rps = rps;
    if (rps >= sweep.max_rps()) break;
    rps = std::min(rps * factor, sweep.max_rps());
  }
  // 2. Bisect between the last good and the first bad rate.
  if (good_rps.has_value() && bad_rps.has_value()) {
    for (uint32_t i = 0; i < sweep.bisect_iterations(); ++i) {
      const double mid = (*good_rps + *bad_rps) / 2.0;
      absl::StatusOr<bool> good = run(mid, "bisect");
      if (!good.ok()) return good.status();
      (*good ? good_rps : bad_rps) = mid;
    }
  }
  if (good_rps.has_value()) result.set_knee_rps(*good_rps);
  if (bad_rps.has_value()) result.set_first_bad_rps(*bad_rps);
  if (!good_rps.has_value()) {
    result.set_note("start_rps already fails: the engine sustains less than start_rps");
  } else if (!bad_rps.has_value()) {
    result.set_note("sustained up to max_rps: the capacity may be higher");
  } else {
    result.set_note(absl::StrFormat("max sustainable rate between %.3g and %.3g req/s",
                                    *good_rps, *bad_rps));
  }
  return result;
}

std::string SweepTable(const v1::RunResult& result) {
  std::string out;
  for (const v1::SweepResult& sweep : result.sweeps()) {
    std::vector<std::vector<std::string>> rows = {{"offered", "sustained", "achieved",
                                                   "TTFT p50", "TTFT p99",
                                                   "E2E p50", "E2E p99", "SLO %", "err %",
                                                   "phase", "result"}};
    std::vector<const v1::SweepPoint*> points;
    for (const v1::SweepPoint& p : sweep.points()) points.push_back(&p);
    std::stable_sort(points.begin(), points.end(), [](const auto* a, const auto* b) {
      return a->offered_rps() < b->offered_rps();
    });
    auto opt = [](bool has, double v) { return has ? absl::StrFormat("%.2f", v) : "-"; };
    for (const v1::SweepPoint* p : points) {
      rows.push_back({absl::StrFormat("%.2f", p->offered_rps()),
                      opt(p->has_sustained_rps(), p->sustained_rps()),
                      absl::StrFormat("%.2f", p->achieved_rps()),
                      opt(p->has_ttft_p50_ms(), p->ttft_p50_ms()),
                      opt(p->has_ttft_p99_ms(), p->ttft_p99_ms()),
                      opt(p->has_e2e_p50_ms(), p->e2e_p50_ms()),
                      opt(p->has_e2e_p99_ms(), p->e2e_p99_ms()),
                      opt(p->has_slo_attainment(), 100 * p->slo_attainment()),
                      absl::StrFormat("%.1f", 100 * p->error_rate()), p->phase(),
                      p->good() ? "good" : absl::StrCat("bad: ", p->reason())});
    }
    std::vector<size_t> widths(rows[0].size(), 0);
    for (const auto& row : rows) {
      for (size_t i = 0; i + 1 < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    absl::StrAppend(&out, "sweep of ", sweep.engine(), " (req/s; latencies in ms):\n");
    for (size_t r = 0; r < rows.size(); ++r) {
      std::string line;
      for (size_t i = 0; i < rows[r].size(); ++i) {
        if (i > 0) line += "  ";
        if (i + 1 == rows[r].size()) {
          line += rows[r][i];
        } else if (i + 2 == rows[r].size()) {
          line += rows[r][i] + std::string(widths[i] - rows[r][i].size(), ' ');
        } else {
          line += std::string(widths[i] - rows[r][i].size(), ' ') + rows[r][i];
        }
      }
      absl::StrAppend(&out, line, "\n");
    }
    if (sweep.has_knee_rps()) {
      absl::StrAppend(&out, absl::StrFormat("knee (max sustainable rate): %.2f req/s", sweep.knee_rps()));
    } else {
      absl::StrAppend(&out, "knee: none");
    }
    absl::StrAppend(&out, " — ", sweep.note(), "\n");
    if (!sweep.judged_on().empty()) {
      absl::StrAppend(&out, "judged on: ", sweep.judged_on(),
                      "; achieved = successes / whole window, drain included\n");
    }
  }
  return out;
}

}  // namespace llmbench::coordinator
