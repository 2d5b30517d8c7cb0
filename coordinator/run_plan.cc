#include "coordinator/run_plan.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "coordinator/prompt_lengths.h"
#include "coordinator/prompts.h"
#include "coordinator/sharding.h"
#include "coordinator/text_export.h"
#include "coordinator/token_counter.h"
#include "coordinator/trace_plan.h"
#include "proto/wire/load_profile.h"
#include "proto/wire/shard_ids.h"
#include "proto/wire/trace_schedule.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

constexpr uint64_t kMaxScheduled = 10'000'000;  // arrivals walked for the totals

std::string Rate(double rps) { return absl::StrFormat("%.6g", rps); }

std::string LoadText(const v1::ShardLoad& load) {
  if (load.has_concurrency()) return absl::StrCat("concurrency ", load.concurrency().concurrency());
  if (load.has_trace()) {
    return absl::StrCat("trace replay, period ",
                        Rate(static_cast<double>(load.trace().period_ns()) / 1e9), " s");
  }
  const v1::RateLoad& r = load.rate();
  std::string text = absl::StrCat("rate ", Rate(r.rps()), " rps ",
                                  r.arrival() == v1::ARRIVAL_POISSON ? "poisson" : "constant");
  if (r.has_ramp()) {
    absl::StrAppend(&text, ", ramp ", Rate(r.ramp().from_rps()), "->", Rate(r.ramp().to_rps()),
                    " rps over ", Rate(r.ramp().seconds()), " s");
  }
  if (r.has_burst() && r.burst().size() > 0) {
    absl::StrAppend(&text, ", burst ", r.burst().size(), " every ", Rate(r.burst().every_seconds()),
                    " s");
  }
  return text;
}

std::string LengthsText(const std::vector<double>& values) {
  if (values.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  return absl::StrFormat("min %.0f, mean %.1f, max %.0f", *lo, sum / values.size(), *hi);
}

// The trace section of `validate`.
std::string TraceText(const v1::TraceInfo& t) {
  std::string out = absl::StrCat("\n# trace\n", t.file(), ": ", t.format(), " format, ",
                                 t.file_entries(), " entries");
  if (t.reordered_entries() > 0) {
    absl::StrAppend(&out, " (", t.reordered_entries(), " out of order, sorted by timestamp)");
  }
  absl::StrAppend(&out, "\nwindow: from ", Rate(t.start_seconds()), " s to ",
                  t.has_end_seconds() ? absl::StrCat(Rate(t.end_seconds()), " s") : "the end",
                  " of the trace: ", t.window_entries(), " entries over ", Rate(t.window_seconds()),
                  " s of trace time\n");
  absl::StrAppend(&out, "speedup x", Rate(t.speedup()), t.loop() ? ", looped" : "", ": ",
                  t.requests(), " requests",
                  t.loop() ? absl::StrCat(" (", t.repetitions(), " repetitions, every ",
                                          Rate(t.period_seconds()), " s)")
                           : std::string(),
                  ", the last sent ", Rate(t.schedule_seconds()), " s after the start\n");
  if (t.block_tokens() > 0) {
    absl::StrAppend(&out, "prompt blocks: ", t.distinct_blocks(), " distinct hash ids of ",
                    t.block_tokens(), " words, ", t.reused_blocks(), " reuses\n");
  }
  absl::StrAppend(&out, absl::StrFormat("requested lengths: input mean %.1f, output mean %.1f\n",
                                        t.input_tokens_mean(), t.output_tokens_mean()));
  return out;
}

}  // namespace

absl::StatusOr<std::string> DescribePlan(const v1::Scenario& scenario, const std::string& base_dir,
                                         uint32_t workers, uint32_t seconds) {
  if (scenario.load().has_trace() && !scenario.load().has_requests()) {
    LLMBENCH_ASSIGN_OR_RETURN(const v1::Scenario resolved,
                              ResolveTraceRequests(scenario, base_dir));
    return DescribePlan(resolved, base_dir, workers, seconds);
  }
  std::string out;
  PromptPlan plan;
  if (scenario.load().has_trace()) {
    LLMBENCH_ASSIGN_OR_RETURN(TracePlan trace, PlanTrace(scenario, base_dir));
    plan = std::move(trace.prompts);
    absl::StrAppend(&out, TraceText(trace.info));
  } else {
    LLMBENCH_ASSIGN_OR_RETURN(
        plan, PlanPrompts(scenario.prompts(), scenario.generation(), scenario.seed(), base_dir));
  }
  // Prompts: counted locally only (words, or the tokenizer.json when given).
  std::vector<v1::Prompt> prompts = plan.prompts;
  std::string counted = "words (one token per word)";
  if (!scenario.prompts().tokenizer().empty() &&
      scenario.prompts().length_method() != v1::PROMPT_LENGTH_METHOD_WORDS) {
    const std::string& path = scenario.prompts().tokenizer();
    const std::string resolved =
        path[0] == '/' || base_dir.empty() ? path : absl::StrCat(base_dir, "/", path);
    LLMBENCH_ASSIGN_OR_RETURN(std::unique_ptr<TokenCounter> counter,
                              MakeTokenizerJsonCounter(scenario.engines(0), resolved));
    LLMBENCH_ASSIGN_OR_RETURN(ResolvedPrompts r,
                              ResolvePromptLengths(plan, *counter, scenario.seed()));
    prompts = std::move(r.prompts);
    counted = absl::StrCat("tokenizer ", path, " (for engine ", scenario.engines(0).name(), ")");
  }
  const v1::PromptLengthMethod method = scenario.prompts().length_method();
  std::vector<double> input, output;
  for (const v1::Prompt& p : prompts) {
    input.push_back(p.approx_tokens());
    if (p.has_max_tokens()) output.push_back(p.max_tokens());
  }
  absl::StrAppend(&out, "\n# prompts\n", prompts.size(), " ",
                  plan.synthetic                ? "synthetic"
                  : scenario.load().has_trace() ? "trace"
                                                : "dataset",
                  " prompts; input tokens (", counted, "): ", LengthsText(input), "\n");
  if (method == v1::PROMPT_LENGTH_METHOD_UNSPECIFIED || method == v1::PROMPT_LENGTH_METHOD_AUTO ||
      method == v1::PROMPT_LENGTH_METHOD_ENGINE) {
    absl::StrAppend(&out,
                    "at run time each engine's tokenize route (vLLM, TGI, llama.cpp) counts them "
                    "first and synthetic prompts are made exact; validate contacts no engine\n");
  }
  if (output.empty()) {
    absl::StrAppend(&out, "output tokens: max_tokens ", scenario.generation().max_tokens(),
                    " for every request", scenario.generation().ignore_eos() ? " (ignore_eos)" : "",
                    "\n");
  } else {
    absl::StrAppend(&out, "output tokens per request (max_tokens): ", LengthsText(output),
                    scenario.generation().ignore_eos() ? " (ignore_eos)" : "", "\n");
  }
  if (const uint32_t text = ReplyTextBytes(scenario); text > 0) {
    absl::StrAppend(&out, "raw export: requests.jsonl, replies kept up to ", text, " bytes each\n");
  }
  for (const std::string& url : scenario.telemetry().gpu_metrics()) {
    absl::StrAppend(&out, "GPU metrics: DCGM exporter ", url, " (not contacted now)\n");
  }

  const v1::Load& load = scenario.load();
  if (load.has_sweep()) {
    absl::StrAppend(&out, "\n# load\ncapacity sweep from ", Rate(load.sweep().start_rps()), " to ",
                    Rate(load.sweep().max_rps()), " rps (x", Rate(load.sweep().step_factor()),
                    " steps of ", Rate(load.sweep().step_seconds()),
                    " s, then bisection): each probe is a rate run sharded like below\n");
    return out;
  }
  // Engines run one after another on every worker, or side by side on their own groups.
  const bool side = load.side_by_side() && scenario.engines_size() > 1;
  for (int e = 0; e < scenario.engines_size(); ++e) {
    uint32_t group = workers;
    if (side) {
      const uint32_t engines = static_cast<uint32_t>(scenario.engines_size());
      group = workers / engines + (static_cast<uint32_t>(e) < workers % engines ? 1 : 0);
    }
    LLMBENCH_ASSIGN_OR_RETURN(
        std::vector<v1::Shard> shards,
        MakeShards(scenario, e, prompts, std::max<uint32_t>(group, 1), "validate", 0));
    absl::StrAppend(&out, "\n# shards of engine ", scenario.engines(e).name(), " (",
                    scenario.engines(e).base_url(), ") over ", group, " worker",
                    group == 1 ? "" : "s", side ? ", side by side with the other engines" : "",
                    "\n");
    absl::StrAppend(&out, absl::StrFormat("%-6s %-44s %12s %8s %20s %9s\n", "shard", "load",
                                          "requests", "warm-up", "seed", "KiB"));
    uint64_t total = 0;
    for (const v1::Shard& shard : shards) {
      const wire::ShardIds ids(shard);
      total += ids.size();
      absl::StrAppend(&out, absl::StrFormat("%-6d %-44s %12s %8d %20d %9.1f\n", shard.shard_index(),
                                            LoadText(shard.load()),
                                            shard.has_duration_seconds() && ids.size() == 0
                                                ? absl::StrCat(Rate(shard.duration_seconds()), " s")
                                                : absl::StrCat(ids.size()),
                                            shard.warmup_requests(), shard.load().seed(),
                                            static_cast<double>(shard.ByteSizeLong()) / 1024));
    }
    if (group > shards.size()) {
      absl::StrAppend(&out, group - shards.size(),
                      " worker(s) get no shard (nothing left to split)\n");
    }
    // The schedule: arrivals per second over the first `seconds`, and the totals.
    absl::StrAppend(&out, "\n# schedule of engine ", scenario.engines(e).name(), "\n");
    if (load.has_concurrency()) {
      absl::StrAppend(&out, "closed loop: ", load.concurrency().concurrency(),
                      " requests in flight at all times; a new request starts when one ends, so "
                      "the schedule depends on the engine's latency\n");
    } else {
      std::vector<uint64_t> per_second(seconds, 0);
      double last_s = 0;
      uint64_t scheduled = 0;
      bool walked_all = true;
      for (const v1::Shard& shard : shards) {
        const wire::ShardIds ids(shard);
        absl::StatusOr<std::unique_ptr<wire::ArrivalSchedule>> schedule;
        if (shard.load().has_trace()) {
          schedule = std::unique_ptr<wire::ArrivalSchedule>(
              std::make_unique<wire::TraceSchedule>(shard, ids));
        } else {
          schedule = wire::MakeArrivalSchedule(shard.load().rate(), shard.load().seed());
        }
        if (!schedule.ok()) return schedule.status();
        const uint64_t count = ids.size() > 0 ? ids.size() + shard.warmup_requests() : 0;
        const double bound_s =
            shard.has_duration_seconds() ? shard.duration_seconds() + shard.warmup_seconds() : 1e18;
        for (uint64_t k = 0; count == 0 || k < count; ++k) {
          if (k >= kMaxScheduled) {
            walked_all = false;
            break;
          }
          const double t = static_cast<double>((*schedule)->Next()) / 1e9;
          if (t >= bound_s) break;
          if (t < seconds) ++per_second[static_cast<size_t>(t)];
          last_s = std::max(last_s, t);
          ++scheduled;
          if (count == 0 && t >= seconds && !shard.has_duration_seconds()) break;
        }
      }
      for (uint32_t s = 0; s < seconds; ++s) {
        absl::StrAppend(&out,
                        absl::StrFormat("  %3d-%-3d s  %8d requests\n", s, s + 1, per_second[s]));
      }
      absl::StrAppend(
          &out,
          absl::StrFormat("total: %d requests scheduled%s, the last at %.2f s after the start\n",
                          scheduled, walked_all ? "" : " (walk stopped at 10000000)", last_s));
    }
    absl::StrAppend(&out, "planned: ",
                    load.has_requests() ? absl::StrCat(load.requests(), " measured requests")
                                        : std::string("no request count"),
                    load.has_duration_seconds()
                        ? absl::StrCat(", at most ", Rate(load.duration_seconds()), " s")
                        : std::string(),
                    load.warmup_requests() > 0
                        ? absl::StrCat(", plus ", load.warmup_requests(), " warm-up requests")
                        : std::string(),
                    "; shards hold ", total, " measured ids\n");
  }
  return out;
}

}  // namespace llmbench::coordinator
