#include "coordinator/trace_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

constexpr uint64_t kBlockStream = 0x626c6f636b000000ULL;  // "block"
constexpr uint64_t kOwnStream = 0x6f776e0000000000ULL;    // "own"

std::string Seconds(double s) { return absl::StrFormat("%.6g", s); }

double Speedup(const v1::TraceLoad& trace) { return trace.has_speedup() ? trace.speedup() : 1.0; }

absl::Status CheckTraceLoad(const v1::TraceLoad& trace) {
  const double speedup = Speedup(trace);
  if (!(std::isfinite(speedup) && speedup > 0 && speedup <= 1e6)) {
    return absl::InvalidArgumentError(
        absl::StrCat("load.trace.speedup: must be > 0 and <= 1000000, got ", Seconds(speedup)));
  }
  if (!(std::isfinite(trace.start_seconds()) && trace.start_seconds() >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("load.trace.start_seconds: must be >= 0, got ",
                                                   Seconds(trace.start_seconds())));
  }
  if (trace.has_end_seconds() &&
      !(std::isfinite(trace.end_seconds()) && trace.end_seconds() > trace.start_seconds())) {
    return absl::InvalidArgumentError(
        absl::StrCat("load.trace.end_seconds: must be > start_seconds (",
                     Seconds(trace.start_seconds()), "), got ", Seconds(trace.end_seconds())));
  }
  return absl::OkStatus();
}

int64_t Offset(const v1::Prompt& p) { return p.trace_offset_ns(); }

// Entries of `prompts` (ascending offsets) with offset < limit.
uint64_t CountBefore(const std::vector<v1::Prompt>& prompts, int64_t limit) {
  const auto it = std::lower_bound(prompts.begin(), prompts.end(), limit,
                                   [](const v1::Prompt& p, int64_t t) { return Offset(p) < t; });
  return static_cast<uint64_t>(it - prompts.begin());
}

}  // namespace

int64_t TracePeriodNs(const v1::TraceLoad& trace, const std::vector<v1::Prompt>& prompts) {
  const double speedup = Speedup(trace);
  if (trace.has_end_seconds()) {
    return std::max<int64_t>(
        1, std::llround((trace.end_seconds() - trace.start_seconds()) * 1e9 / speedup));
  }
  if (prompts.empty()) return 1;
  const int64_t first = Offset(prompts.front());
  const int64_t last = Offset(prompts.back());
  const int64_t gap = prompts.size() >= 2 && last > first
                          ? (last - first) / static_cast<int64_t>(prompts.size() - 1)
                          : std::llround(1e9 / speedup);
  return last + std::max<int64_t>(1, gap);
}

absl::StatusOr<uint64_t> TraceRequestCount(const v1::Load& load,
                                           const std::vector<v1::Prompt>& prompts) {
  if (prompts.empty()) return absl::InvalidArgumentError("load.trace: the window is empty");
  const uint64_t n = prompts.size();
  const int64_t limit = load.has_duration_seconds()
                            ? static_cast<int64_t>(std::min(9e18, load.duration_seconds() * 1e9))
                            : std::numeric_limits<int64_t>::max();
  const uint64_t cap = load.has_requests() ? load.requests() : std::numeric_limits<uint64_t>::max();
  uint64_t total = 0;
  if (!load.trace().loop()) {
    total = std::min(CountBefore(prompts, limit), cap);
  } else {
    if (!load.has_duration_seconds() && !load.has_requests()) {
      return absl::InvalidArgumentError(
          "load.trace.loop: needs load.duration_seconds or load.requests to end the replay");
    }
    const int64_t period = TracePeriodNs(load.trace(), prompts);
    for (int64_t base = 0; base < limit;) {
      const uint64_t c = CountBefore(prompts, limit - base);
      if (c == 0) break;
      if (c >= cap - total) {
        total = cap;
        break;
      }
      total += c;
      if (total > kMaxTraceRequests || c < n) break;
      if (base > std::numeric_limits<int64_t>::max() - period) break;
      base += period;
    }
  }
  if (total > kMaxTraceRequests) {
    return absl::InvalidArgumentError(absl::StrCat(
        "load.trace: more than ", kMaxTraceRequests,
        " requests planned, the limit for a trace replay (shorten load.duration_seconds or set "
        "load.requests)"));
  }
  if (total == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("load.duration_seconds: no trace request is scheduled before ",
                     Seconds(load.duration_seconds()), " s (the window's first request is at ",
                     Seconds(static_cast<double>(Offset(prompts.front())) / 1e9), " s)"));
  }
  return total;
}

absl::StatusOr<TracePlan> PlanTraceFile(const v1::Scenario& scenario, TraceFile trace,
                                        const std::string& shown) {
  const v1::TraceLoad& options = scenario.load().trace();
  LLMBENCH_RETURN_IF_ERROR(CheckTraceLoad(options));
  const double speedup = Speedup(options);
  const double t0 = trace.entries.front().timestamp_ms;
  const double start_ms = options.start_seconds() * 1000;
  const double end_ms = options.has_end_seconds() ? options.end_seconds() * 1000
                                                  : std::numeric_limits<double>::infinity();
  const bool mooncake = trace.format == v1::TRACE_FORMAT_MOONCAKE;
  const double span_s = (trace.entries.back().timestamp_ms - t0) / 1000;

  std::vector<const TraceEntry*> window;
  uint64_t words = 0;
  for (const TraceEntry& e : trace.entries) {
    const double rel = e.timestamp_ms - t0;
    if (rel < start_ms || rel >= end_ms) continue;
    window.push_back(&e);
    words += mooncake ? e.input_length : CountWords(e.prompt);
    if (words > kMaxTraceInputWords) {
      return absl::InvalidArgumentError(absl::StrCat(
          shown, ":", e.line, ": the window's prompts exceed ", kMaxTraceInputWords,
          " input tokens in all, the limit for a trace replay (set load.trace.end_seconds / "
          "--trace-end)"));
    }
  }
  if (window.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "load.trace: no entry of ", shown, " lies between start_seconds ",
        Seconds(options.start_seconds()), " and end_seconds ",
        options.has_end_seconds() ? Seconds(options.end_seconds()) : std::string("(none)"),
        " (its entries span ", Seconds(span_s), " s from the first timestamp)"));
  }

  TracePlan plan;
  plan.prompts.synthetic = false;
  const uint64_t seed = scenario.seed();
  const std::string& system = scenario.prompts().system_prompt();
  const uint32_t block_words =
      options.has_block_tokens() && options.block_tokens() > 0 ? options.block_tokens()
                                                               : kTraceBlockWords;
  absl::flat_hash_map<uint64_t, uint64_t> block_uses;
  double input_sum = 0, output_sum = 0;
  for (size_t i = 0; i < window.size(); ++i) {
    const TraceEntry& e = *window[i];
    v1::Prompt prompt;
    const double offset_ms = (e.timestamp_ms - t0 - start_ms) / speedup;
    prompt.set_trace_offset_ns(static_cast<int64_t>(std::llround(offset_ms * 1e6)));
    if (!system.empty()) prompt.set_system(system);
    std::string text;
    if (mooncake) {
      uint32_t left = e.input_length;
      for (uint64_t h : e.hash_ids) {
        if (left == 0) break;
        ++block_uses[h];
        std::mt19937_64 rng(SplitMix64(seed ^ kBlockStream ^ SplitMix64(h)));
        const uint32_t take = std::min(left, block_words);
        AppendSyntheticWords(rng, take, &text);
        left -= take;
      }
      if (left > 0) {
        std::mt19937_64 rng(SplitMix64(seed ^ kOwnStream ^ SplitMix64(i)));
        AppendSyntheticWords(rng, left, &text);
      }
      prompt.set_approx_tokens(e.input_length);
      prompt.set_max_tokens(e.output_length);
      output_sum += e.output_length;
    } else {
      text = e.prompt;
      prompt.set_approx_tokens(CountWords(e.prompt));
      if (e.max_tokens.has_value()) prompt.set_max_tokens(*e.max_tokens);
      output_sum +=
          prompt.has_max_tokens() ? prompt.max_tokens() : scenario.generation().max_tokens();
    }
    input_sum += prompt.approx_tokens();
    prompt.set_text(std::move(text));
    plan.prompts.prompts.push_back(std::move(prompt));
  }
  plan.period_ns = TracePeriodNs(options, plan.prompts.prompts);
  LLMBENCH_ASSIGN_OR_RETURN(plan.requests,
                            TraceRequestCount(scenario.load(), plan.prompts.prompts));

  v1::TraceInfo& info = plan.info;
  const uint64_t n = window.size();
  info.set_file(shown);
  info.set_format(TraceFormatName(trace.format));
  info.set_file_entries(trace.entries.size());
  info.set_window_entries(n);
  info.set_requests(plan.requests);
  info.set_repetitions(static_cast<uint32_t>((plan.requests + n - 1) / n));
  info.set_speedup(speedup);
  info.set_start_seconds(options.start_seconds());
  if (options.has_end_seconds()) info.set_end_seconds(options.end_seconds());
  info.set_loop(options.loop());
  info.set_window_seconds((window.back()->timestamp_ms - window.front()->timestamp_ms) / 1000);
  info.set_period_seconds(static_cast<double>(plan.period_ns) / 1e9);
  const uint64_t last = plan.requests - 1;
  info.set_schedule_seconds((static_cast<double>(Offset(plan.prompts.prompts[last % n])) +
                             static_cast<double>(last / n) * static_cast<double>(plan.period_ns)) /
                            1e9);
  info.set_reordered_entries(trace.reordered);
  if (mooncake) {
    info.set_block_tokens(block_words);
    info.set_distinct_blocks(block_uses.size());
    uint64_t reused = 0;
    for (const auto& [id, uses] : block_uses) reused += uses - 1;
    info.set_reused_blocks(reused);
  }
  info.set_input_tokens_mean(input_sum / static_cast<double>(n));
  info.set_output_tokens_mean(output_sum / static_cast<double>(n));
  return plan;
}

absl::StatusOr<TracePlan> PlanTrace(const v1::Scenario& scenario, const std::string& base_dir) {
  const v1::TraceLoad& options = scenario.load().trace();
  const std::string& shown = options.file();
  if (shown.empty()) return absl::InvalidArgumentError("load.trace.file: required");
  const std::string resolved =
      shown[0] == '/' || base_dir.empty() ? shown : absl::StrCat(base_dir, "/", shown);
  LLMBENCH_ASSIGN_OR_RETURN(TraceFile trace, LoadTraceFile(resolved, shown, options.format()));
  return PlanTraceFile(scenario, std::move(trace), shown);
}

absl::StatusOr<v1::Scenario> ResolveTraceRequests(const v1::Scenario& scenario,
                                                  const std::string& base_dir) {
  LLMBENCH_ASSIGN_OR_RETURN(TracePlan plan, PlanTrace(scenario, base_dir));
  v1::Scenario resolved = scenario;
  resolved.mutable_load()->set_requests(plan.requests);
  return resolved;
}

}  // namespace llmbench::coordinator
