#include "coordinator/engine_metrics_csv.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/csv.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

std::string EngineMetricsCsv(const v1::RunResult& result) {
  std::string out = "engine,section,name,metric,t_s,client,server,diff\n";
  for (const v1::EngineResult& e : result.engines()) {
    if (!e.has_telemetry()) continue;
    const v1::EngineTelemetry& t = e.telemetry();
    const std::string engine = CsvField(e.engine());
    auto row = [&](const char* section, std::string_view name, std::string_view metric,
                   std::optional<double> t_s, std::optional<double> client,
                   std::optional<double> server, std::optional<double> diff) {
      auto cell = [](std::optional<double> v) {
        return v.has_value() ? ShortestNumber(*v) : std::string();
      };
      absl::StrAppend(&out, engine, ",", section, ",", CsvField(name), ",", CsvField(metric), ",",
                      cell(t_s), ",", cell(client), ",", cell(server), ",", cell(diff), "\n");
    };
    if (t.has_client_vs_server()) {
      const v1::ClientVsServer& c = t.client_vs_server();
      auto opt = [](bool has, double v) { return has ? std::optional<double>(v) : std::nullopt; };
      const std::string ttft = t.has_server_ttft() ? t.server_ttft().metric() : "";
      const std::string e2e = t.has_server_e2e() ? t.server_e2e().metric() : "";
      const std::string itl = t.has_server_itl() ? t.server_itl().metric() : "";
      row("client_vs_server", "requests_success", "", std::nullopt,
          static_cast<double>(c.client_successes()),
          opt(c.has_server_requests_success(), c.server_requests_success()), std::nullopt);
      row("client_vs_server", "ttft_p50_ms", ttft, std::nullopt,
          opt(c.has_client_ttft_p50_ms(), c.client_ttft_p50_ms()),
          opt(c.has_server_ttft_p50_ms(), c.server_ttft_p50_ms()),
          opt(c.has_ttft_p50_diff_ms(), c.ttft_p50_diff_ms()));
      row("client_vs_server", "ttft_p99_ms", ttft, std::nullopt,
          opt(c.has_client_ttft_p99_ms(), c.client_ttft_p99_ms()),
          opt(c.has_server_ttft_p99_ms(), c.server_ttft_p99_ms()),
          opt(c.has_ttft_p99_diff_ms(), c.ttft_p99_diff_ms()));
      row("client_vs_server", "e2e_p50_ms", e2e, std::nullopt,
          opt(c.has_client_e2e_p50_ms(), c.client_e2e_p50_ms()),
          opt(c.has_server_e2e_p50_ms(), c.server_e2e_p50_ms()),
          opt(c.has_e2e_p50_diff_ms(), c.e2e_p50_diff_ms()));
      row("client_vs_server", "e2e_p99_ms", e2e, std::nullopt,
          opt(c.has_client_e2e_p99_ms(), c.client_e2e_p99_ms()),
          opt(c.has_server_e2e_p99_ms(), c.server_e2e_p99_ms()),
          opt(c.has_e2e_p99_diff_ms(), c.e2e_p99_diff_ms()));
      row("client_vs_server", "itl_p50_ms", itl, std::nullopt,
          opt(c.has_client_itl_p50_ms(), c.client_itl_p50_ms()),
          opt(c.has_server_itl_p50_ms(), c.server_itl_p50_ms()), std::nullopt);
      row("client_vs_server", "output_tokens", "", std::nullopt,
          opt(c.has_client_output_tokens(), static_cast<double>(c.client_output_tokens())),
          opt(c.has_server_generation_tokens(), c.server_generation_tokens()),
          opt(c.has_output_tokens_diff(), c.output_tokens_diff()));
      row("client_vs_server", "input_tokens", "", std::nullopt,
          opt(c.has_client_input_tokens(), static_cast<double>(c.client_input_tokens())),
          opt(c.has_server_prompt_tokens(), c.server_prompt_tokens()),
          opt(c.has_input_tokens_diff(), c.input_tokens_diff()));
    }
    for (const v1::CounterDelta& d : t.counters()) {
      row("counter", d.name(), d.metric(), std::nullopt, std::nullopt, d.delta(), std::nullopt);
    }
    const std::pair<std::string_view, const v1::ServerHistogram*> hists[] = {
        {"server_ttft", t.has_server_ttft() ? &t.server_ttft() : nullptr},
        {"server_itl", t.has_server_itl() ? &t.server_itl() : nullptr},
        {"server_e2e", t.has_server_e2e() ? &t.server_e2e() : nullptr},
        {"server_queue", t.has_server_queue() ? &t.server_queue() : nullptr},
        {"server_inference", t.has_server_inference() ? &t.server_inference() : nullptr}};
    for (const auto& [name, h] : hists) {
      if (h == nullptr) continue;
      const std::string base(name);
      row("histogram", base + "_count", h->metric(), std::nullopt, std::nullopt, h->count(),
          std::nullopt);
      if (h->has_mean_ms()) {
        row("histogram", base + "_mean_ms", h->metric(), std::nullopt, std::nullopt, h->mean_ms(),
            std::nullopt);
      }
      if (h->has_p50_ms()) {
        row("histogram", base + "_p50_ms", h->metric(), std::nullopt, std::nullopt, h->p50_ms(),
            std::nullopt);
      }
      if (h->has_p90_ms()) {
        row("histogram", base + "_p90_ms", h->metric(), std::nullopt, std::nullopt, h->p90_ms(),
            std::nullopt);
      }
      if (h->has_p99_ms()) {
        row("histogram", base + "_p99_ms", h->metric(), std::nullopt, std::nullopt, h->p99_ms(),
            std::nullopt);
      }
    }
    if (t.has_server_timings()) {
      const v1::ServerTimingSummary& s = t.server_timings();
      const std::pair<std::string_view, const v1::TimingStats*> stats[] = {
          {"load_ms", s.has_load_ms() ? &s.load_ms() : nullptr},
          {"prompt_eval_ms", s.has_prompt_eval_ms() ? &s.prompt_eval_ms() : nullptr},
          {"prompt_eval_tokens_per_s",
           s.has_prompt_eval_tokens_per_s() ? &s.prompt_eval_tokens_per_s() : nullptr},
          {"decode_tokens_per_s", s.has_decode_tokens_per_s() ? &s.decode_tokens_per_s() : nullptr},
          {"total_ms", s.has_total_ms() ? &s.total_ms() : nullptr},
          {"queue_ms", s.has_queue_ms() ? &s.queue_ms() : nullptr},
          {"server_ttft_ms", s.has_server_ttft_ms() ? &s.server_ttft_ms() : nullptr}};
      for (const auto& [name, st] : stats) {
        if (st == nullptr) continue;
        const std::string base(name);
        row("server_timing", base + "_mean", "", std::nullopt, std::nullopt, st->mean(), std::nullopt);
        row("server_timing", base + "_p50", "", std::nullopt, std::nullopt, st->p50(), std::nullopt);
        row("server_timing", base + "_p99", "", std::nullopt, std::nullopt, st->p99(), std::nullopt);
      }
    }
    for (const v1::GaugeSeries& g : t.gauges()) {
      for (int i = 0; i < g.values_size() && i < g.t_s_size(); ++i) {
        row("gauge", g.name(), g.metric(), g.t_s(i), std::nullopt, g.values(i), std::nullopt);
      }
    }
    for (const v1::OllamaPsSample& s : t.ps_samples()) {
      for (const v1::OllamaLoadedModel& m : s.models()) {
        row("ollama_ps", m.name(), "size_vram_bytes", s.t_s(), std::nullopt,
            static_cast<double>(m.size_vram_bytes()), std::nullopt);
      }
    }
  }
  return out;
}

absl::Status WriteEngineMetricsCsv(const std::string& dir, const v1::RunResult& result) {
  bool any = false;
  for (const v1::EngineResult& e : result.engines()) any = any || e.has_telemetry();
  if (!any) return absl::OkStatus();
  const std::filesystem::path path = std::filesystem::path(dir) / kEngineMetricsFileName;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::string csv = EngineMetricsCsv(result);
  out.write(csv.data(), static_cast<std::streamsize>(csv.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace llmbench::coordinator
