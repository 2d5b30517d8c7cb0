#include "coordinator/workload_summary.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/text_safety.h"
#include "coordinator/multi_turn.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

std::string WorkloadSummaryLines(const v1::RunResult& result) {
  std::string out;
  const v1::Scenario& scenario = result.scenario();
  if (!scenario.label().empty() || !scenario.tags().empty()) {
    std::map<std::string, std::string> tags(scenario.tags().begin(), scenario.tags().end());
    std::string line = "run:";
    if (!scenario.label().empty()) absl::StrAppend(&line, " label \"", scenario.label(), "\"");
    if (!tags.empty()) {
      absl::StrAppend(&line, " tags ", absl::StrJoin(tags, " ", absl::PairFormatter("=")));
    }
    absl::StrAppend(&out, EscapeControlCharacters(line), "\n");
  }
  if (result.has_trace()) {
    const v1::TraceInfo& t = result.trace();
    std::string line = absl::StrFormat(
        "trace: %s (%s), %d of %d entries, x%g%s: %d requests, the last scheduled at %.3f s",
        t.file(), t.format(), t.window_entries(), t.file_entries(), t.speedup(),
        t.loop() ? absl::StrFormat(", looped %d times every %.3f s", t.repetitions(),
                                   t.period_seconds())
                 : std::string(),
        t.requests(), t.schedule_seconds());
    if (t.block_tokens() > 0) {
      absl::StrAppend(&line, "; ", t.distinct_blocks(), " prompt blocks, ", t.reused_blocks(),
                      " reused");
    }
    absl::StrAppend(&out, EscapeControlCharacters(line), "\n");
  }
  for (const v1::EngineResult& e : result.engines()) {
    // Multi-turn: sessions and the per-turn table (coordinator/multi_turn.h).
    if (e.has_multi_turn()) {
      absl::StrAppend(&out, "multi-turn (", EscapeControlCharacters(e.engine()), "):\n",
                      FormatTurnTable(e));
    }
  }
  for (const v1::EngineResult& e : result.engines()) {
    if (!e.has_lengths()) continue;
    const v1::LengthReport& l = e.lengths();
    std::string line = absl::StrCat("input tokens (", e.engine(), "): counted by ", l.method(),
                                    l.source().empty() ? "" : " ", l.source());
    if (l.has_input_requested()) {
      absl::StrAppend(&line, absl::StrFormat("; requested mean %.1f", l.input_requested().mean()));
    }
    if (l.input_compared() > 0) {
      absl::StrAppend(
          &line, absl::StrFormat("; engine-reported equal in %d of %d (mean error %+.2f tokens, "
                                 "mean |error| %.2f%%, max |error| %.0f)",
                                 l.input_exact(), l.input_compared(), l.input_mean_error(),
                                 l.input_mean_abs_error_pct(), l.input_max_abs_error()));
    } else {
      absl::StrAppend(&line, "; the engine reported no input tokens to compare");
    }
    if (l.prompts_off_target() > 0) {
      absl::StrAppend(&line, "; ", l.prompts_off_target(), " prompts off target");
    }
    absl::StrAppend(&out, EscapeControlCharacters(line), "\n");
    if (l.output_compared() > 0) {
      absl::StrAppend(
          &out, absl::StrFormat("output tokens (%s): max_tokens per request mean %.1f (min %.0f, "
                                "max %.0f); %d of %d reached it\n",
                                EscapeControlCharacters(e.engine()), l.output_requested().mean(),
                                l.output_requested().min(), l.output_requested().max(),
                                l.output_reached(), l.output_compared()));
    }
  }
  for (const v1::GpuMetricsTelemetry& x : result.gpu_metrics()) {
    if (x.gpus().empty()) {
      absl::StrAppend(
          &out, "GPU metrics ", EscapeControlCharacters(x.url()), ": ", x.scrapes(), " scrapes, ",
          x.scrape_errors(), " failed",
          x.notes().empty() ? "" : absl::StrCat(" (", EscapeControlCharacters(x.notes(0)), ")"),
          "\n");
      continue;
    }
    for (const v1::DcgmGpu& g : x.gpus()) {
      std::map<std::string, const v1::GaugeSeries*> m;
      for (const v1::GaugeSeries& s : g.metrics()) m[s.name()] = &s;
      std::string line =
          absl::StrCat("GPU ", g.hostname().empty() ? "" : g.hostname() + " ", g.gpu(),
                       g.model_name().empty() ? "" : " " + g.model_name(), ":");
      auto part = [&](const char* name, const char* label, const char* unit) {
        auto it = m.find(name);
        if (it == m.end()) return;
        absl::StrAppend(&line, absl::StrFormat(" %s mean %.4g max %.4g %s;", label,
                                               it->second->mean(), it->second->max(), unit));
      };
      part("gpu_util_pct", "util", "%");
      part("fb_used_mib", "memory used", "MiB");
      part("power_w", "power", "W");
      if (auto it = m.find("energy_j"); it != m.end()) {
        absl::StrAppend(&line, absl::StrFormat(" energy %.4g J;", it->second->max()));
      }
      if (line.back() == ';') line.pop_back();
      absl::StrAppend(&out, EscapeControlCharacters(line),
                      absl::StrFormat(" (%d scrapes of %s)\n", x.scrapes(), x.url()));
    }
  }
  return out;
}

}  // namespace llmbench::coordinator
