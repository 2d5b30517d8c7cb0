#include "coordinator/cli.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/aggregate.h"
#include "coordinator/cli_diff.h"
#include "coordinator/diff.h"
#include "coordinator/cli_health.h"
#include "coordinator/cli_validate.h"
#include "coordinator/cli_workload_flags.h"
#include "coordinator/dispatch.h"
#include "coordinator/dispatch_repeat.h"
#include "coordinator/dispatch_sweep.h"
#include "coordinator/engine_check.h"
#include "coordinator/exporters.h"
#include "coordinator/html_report.h"
#include "coordinator/live_metrics.h"
#include "coordinator/scenario_loader.h"
#include "google/protobuf/util/message_differencer.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// ---- signals -----------------------------------------------------------------------------------

// The signal that asked the running command to stop (0 = none). The run polls it
// (RunOptions::stop_signal), stops its shards gracefully and writes what it measured.
std::atomic<int> g_stop_signal{0};

extern "C" void OnStopSignal(int signal) {
  if (g_stop_signal.load() != 0) {
    // A second signal: the user insists. Leave at once with the conventional status.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  g_stop_signal.store(signal);
}

// Installs the stop handlers for SIGINT, SIGTERM and SIGHUP for its lifetime and restores the
// previous ones when it ends, whatever path the command takes.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal.store(0);
    struct sigaction action {};
    action.sa_handler = &OnStopSignal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &action, &old_[i]);
  }
  ~StopSignals() {
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &old_[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  const std::atomic<int>* flag() const { return &g_stop_signal; }

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
};

// ---- flag values -------------------------------------------------------------------------------

// A flag's value is refused: the command prints it and exits kExitUsage.
absl::Status BadFlag(absl::string_view flag, absl::string_view why, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why, ", got \"", text, "\""));
}

// An integer flag in [min, max] (exact: no wrap-around of negative values, no rounding).
absl::StatusOr<int64_t> ParseIntFlag(absl::string_view flag, const std::string& text, int64_t min,
                                     int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) {
    return BadFlag(flag, "must be a whole number", text);
  }
  if (value < min || value > max) {
    return BadFlag(flag, absl::StrCat("must be between ", min, " and ", max), text);
  }
  return value;
}

// 10000000 rather than 1e+07 in messages.
std::string NumberText(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

// A finite number; > min when min_exclusive, else >= min; <= max.
absl::StatusOr<double> ParseNumberFlag(absl::string_view flag, const std::string& text, double min,
                                       double max, bool min_exclusive) {
  double value = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(text), &value) || !std::isfinite(value)) {
    return BadFlag(flag, "must be a finite number", text);
  }
  const bool low_ok = min_exclusive ? value > min : value >= min;
  if (!low_ok || value > max) {
    return BadFlag(flag,
                   min_exclusive
                       ? absl::StrCat("must be > ", NumberText(min), " and <= ", NumberText(max))
                       : absl::StrCat("must be between ", NumberText(min), " and ",
                                      NumberText(max)),
                   text);
  }
  return value;
}

// Milliseconds from a duration flag given in seconds ("30", "0.5") or with a unit ("500ms",
// "2s", "5m").
absl::StatusOr<uint32_t> ParseSecondsFlagMs(absl::string_view flag, const std::string& text) {
  absl::string_view v = absl::StripAsciiWhitespace(text);
  double scale = 1000;  // seconds
  if (absl::ConsumeSuffix(&v, "ms")) {
    scale = 1;
  } else if (absl::ConsumeSuffix(&v, "s")) {
    scale = 1000;
  } else if (absl::ConsumeSuffix(&v, "m")) {
    scale = 60'000;
  }
  double value = 0;
  if (!absl::SimpleAtod(v, &value) || !std::isfinite(value) || value <= 0) {
    return BadFlag(flag, "must be a duration > 0 (seconds, or with ms/s/m)", text);
  }
  const double ms = value * scale;
  if (ms < 1 || ms > 86'400'000) {
    return BadFlag(flag, "must be between 1 ms and 24 h", text);
  }
  return static_cast<uint32_t>(std::llround(ms));
}

// A fraction given as 0.05 or 5%.
absl::StatusOr<double> ParseFractionFlag(absl::string_view flag, const std::string& text) {
  absl::string_view v = absl::StripAsciiWhitespace(text);
  const bool percent = absl::ConsumeSuffix(&v, "%");
  double value = 0;
  if (!absl::SimpleAtod(v, &value) || !std::isfinite(value)) {
    return BadFlag(flag, "must be a fraction (0.05) or a percentage (5%)", text);
  }
  if (percent) value /= 100;
  if (value < 0 || value > 1) return BadFlag(flag, "must be between 0 and 1 (0% and 100%)", text);
  return value;
}

// --slo ttft=500,itl=50,tpot=40,e2e=10000 (milliseconds; "2s" and "500ms" also read).
absl::Status ParseSloFlag(const std::string& text, v1::Slo* slo) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    const std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(kv.first));
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    double scale = 1;  // milliseconds
    if (absl::ConsumeSuffix(&value, "ms")) {
      scale = 1;
    } else if (absl::ConsumeSuffix(&value, "s")) {
      scale = 1000;
    }
    double ms = 0;
    if (!absl::SimpleAtod(value, &ms) || !std::isfinite(ms) || ms <= 0) {
      return BadFlag("--slo", absl::StrCat("\"", key, "\" needs a latency > 0 in ms"), text);
    }
    ms *= scale;
    if (key == "ttft") {
      slo->set_ttft_ms(ms);
    } else if (key == "itl") {
      slo->set_itl_ms(ms);
    } else if (key == "tpot") {
      slo->set_tpot_ms(ms);
    } else if (key == "e2e") {
      slo->set_e2e_ms(ms);
    } else {
      return BadFlag("--slo",
                     absl::StrCat("unknown metric \"", key, "\" (expected ttft, itl, tpot, e2e)"),
                     text);
    }
  }
  if (!slo->has_ttft_ms() && !slo->has_itl_ms() && !slo->has_tpot_ms() && !slo->has_e2e_ms()) {
    return BadFlag("--slo", "expected METRIC=MS[,METRIC=MS...], e.g. ttft=500,e2e=10000", text);
  }
  return absl::OkStatus();
}

// ---- results folders ---------------------------------------------------------------------------

// Files and folders llmbench writes into a results folder: what --force replaces.
bool IsResultArtifact(const std::filesystem::directory_entry& entry) {
  static const std::vector<std::string> kFiles = {
      kSummaryFileName, kRequestsFileName, kScenarioFileName, kHtmlReportFileName,
      "resources.csv",  "engine_metrics.csv", kDiffHtmlFileName, "repeat.json",
      "requests.jsonl", "gpu_metrics.csv"};
  const std::string name = entry.path().filename().string();
  std::error_code ec;
  if (entry.is_directory(ec)) {
    // --repeat's run-N folders; a sweep's per-engine folders of probe-* runs.
    if (absl::StartsWith(name, "run-")) return true;
    for (const auto& sub : std::filesystem::directory_iterator(entry.path(), ec)) {
      if (absl::StartsWith(sub.path().filename().string(), "probe-")) return true;
    }
    return false;
  }
  return std::find(kFiles.begin(), kFiles.end(), name) != kFiles.end();
}

// A results folder must be new or empty: writing into an old one would mix its files with the
// new run's. With `force`, the llmbench results in it are removed first (other files stay).
absl::Status PrepareOutDir(const std::string& dir, bool force) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return absl::OkStatus();
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("--out ", dir, ": not a folder"));
  }
  std::vector<std::filesystem::directory_entry> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) entries.push_back(entry);
  if (entries.empty()) return absl::OkStatus();
  if (!force) {
    std::vector<std::string> names;
    for (size_t i = 0; i < entries.size() && i < 4; ++i) {
      names.push_back(entries[i].path().filename().string());
    }
    if (entries.size() > 4) names.push_back("...");
    return absl::InvalidArgumentError(absl::StrCat(
        "--out ", dir, " is not empty (", absl::StrJoin(names, ", "),
        "): give a new folder, or --force to replace the results in it"));
  }
  for (const auto& entry : entries) {
    if (!IsResultArtifact(entry)) continue;
    std::filesystem::remove_all(entry.path(), ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("--force: cannot remove ", entry.path().string(), ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

// ---- flags -------------------------------------------------------------------------------------

// Flags shared by every command that runs load.
struct RunFlags {
  std::vector<std::string> workers;
  std::string out;
  bool force = false;
  std::string local_workers;
  int loop_threads = 1;
  bool quiet = false;
  bool no_engine_check = false;
  std::string log_level = "warn";
  double worker_timeout_s = 5;
  std::string tls_ca, tls_cert, tls_key, token_file;
  int repeat = 1;
  std::vector<std::string> monitors;
  std::string metrics_listen;
  // Thresholds, SLOs and timeouts: flags win over the scenario file.
  std::string max_error_rate, min_slo_attainment, max_lateness, engine_down_after, slo;
  std::string max_dispatch_delay;
  std::string timeout, first_byte_timeout, idle_timeout, connect_timeout;
  RunLabelFlags labels;  // --tag, --label, --export-text, --gpu-metrics, --tokenizer, ...

  void Add(CLI::App* app) {
    labels.Add(app);
    app->add_option("--workers", workers,
                    "Remote llmbench-worker addresses host:port (comma-separated); a DNS name "
                    "stands for every address it resolves to; default: start local workers")
        ->delimiter(',');
    app->add_option("--out", out,
                    "Results folder (default results/<run-id>); must be new or empty");
    app->add_flag("--force", force,
                  "Write into a non-empty --out: the llmbench results in it are removed first");
    app->add_option("--local-workers", local_workers,
                    "Local worker processes, 1 to 1024 (default: one per core)");
    app->add_option("--loop-threads", loop_threads, "Event-loop threads per local worker")
        ->check(CLI::Range(1, 256));
    app->add_flag("--quiet,-q", quiet, "No live progress");
    app->add_flag("--no-engine-check", no_engine_check,
                  "Skip the health/model check before the run");
    app->add_option("--log-level", log_level, "Log level of local workers");
    app->add_option("--worker-timeout", worker_timeout_s,
                    "Seconds without any message (workers send a heartbeat every 0.5 s) after "
                    "which a worker is declared failed and its unfinished requests reassigned")
        ->check(CLI::Range(1.0, 3600.0));
    // Secrets come from files or the environment, never from argv (readable in /proc).
    app->add_option("--tls-ca", tls_ca,
                    "PEM CA of the remote workers' certificates: talk to them over TLS");
    auto* cert = app->add_option("--tls-cert", tls_cert,
                                 "PEM client certificate for workers that require mutual TLS");
    auto* key = app->add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
    cert->needs(key);
    key->needs(cert);
    app->add_option("--repeat", repeat,
                    "Run the scenario K times (OUT/run-1 .. run-K) and write OUT/repeat.json: "
                    "mean and 95% CI of the headline metrics across runs")
        ->check(CLI::Range(1, 1000));
    app->add_option("--token-file", token_file,
                    "File holding the remote workers' shared token (default: $LLMBENCH_TOKEN, "
                    "the variable llmbench-worker reads too)");
    app->add_option("--monitor", monitors,
                    "Host monitor HOST:PORT (`llmbench-worker --monitor`, usually on the engine "
                    "host) sampled for the length of the run: CPU, memory, network, GPU "
                    "(repeatable)");
    app->add_option("--metrics-listen", metrics_listen,
                    "Serve live Prometheus metrics at http://HOST:PORT/metrics during the run "
                    "(port 0: any free port; the address is printed to stderr)");
    app->add_option("--max-error-rate", max_error_rate,
                    "Largest error rate that passes, 0.05 or 5% (failed requests and requests "
                    "that never ran, per engine; default 5%); above it the exit status is 3");
    app->add_option("--slo", slo,
                    "Per-request SLOs in ms: ttft=500,itl=50,tpot=40,e2e=10000 (any of them); "
                    "goodput and SLO attainment are reported against them");
    app->add_option("--min-slo-attainment", min_slo_attainment,
                    "Smallest fraction of requests meeting every --slo that passes (0.9 or 90%); "
                    "below it the exit status is 3");
    app->add_option("--max-dispatch-delay", max_dispatch_delay,
                    "Dispatch delay p99 (ms: a request handed over or scheduled until its bytes "
                    "were written) above which the client fell behind and the run is INVALID "
                    "(default 5)");
    app->add_option("--max-lateness", max_lateness,
                    "Open loop: schedule lateness p99 (ms) above which the generator fell "
                    "behind and the run is INVALID (default 10)");
    app->add_option("--engine-down-after", engine_down_after,
                    "Seconds of nothing but connection failures after which an engine is "
                    "declared down and its run stopped (verdict ENGINE_DOWN, exit 6; default 5; "
                    "0 = never)");
    app->add_option("--timeout", timeout,
                    "Total timeout of one request (seconds, or 500ms / 2m; default 600 s)");
    app->add_option("--first-byte-timeout", first_byte_timeout,
                    "Response headers must arrive within this (default 60 s)");
    app->add_option("--idle-timeout", idle_timeout,
                    "Once a response started, the most time between two received bytes: a "
                    "stalled stream fails as a timeout (default 60 s)");
    app->add_option("--connect-timeout", connect_timeout, "Connect timeout (default 5 s)");
  }

  // Applies the threshold, SLO and timeout flags to `scenario` (every engine).
  absl::Status ApplyToScenario(v1::Scenario* scenario) const {
    LLMBENCH_RETURN_IF_ERROR(labels.Apply(scenario));
    v1::Thresholds* t = scenario->mutable_thresholds();
    if (!max_error_rate.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(double v, ParseFractionFlag("--max-error-rate", max_error_rate));
      t->set_max_error_rate(v);
    }
    if (!min_slo_attainment.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(double v,
                                ParseFractionFlag("--min-slo-attainment", min_slo_attainment));
      t->set_min_slo_attainment(v);
    }
    if (!max_lateness.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(double v,
                                ParseNumberFlag("--max-lateness", max_lateness, 0, 1e9, true));
      t->set_max_lateness_p99_ms(v);
    }
    if (!max_dispatch_delay.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(
          double v, ParseNumberFlag("--max-dispatch-delay", max_dispatch_delay, 0, 1e9, true));
      t->set_max_dispatch_delay_p99_ms(v);
    }
    if (!engine_down_after.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(
          double v, ParseNumberFlag("--engine-down-after", engine_down_after, 0, 86'400, false));
      t->set_engine_down_seconds(v);
    }
    if (!slo.empty()) {
      v1::Slo parsed;
      LLMBENCH_RETURN_IF_ERROR(ParseSloFlag(slo, &parsed));
      *scenario->mutable_slo() = parsed;
    }
    if (!min_slo_attainment.empty() && !scenario->slo().has_ttft_ms() &&
        !scenario->slo().has_itl_ms() && !scenario->slo().has_tpot_ms() &&
        !scenario->slo().has_e2e_ms()) {
      return BadFlag("--min-slo-attainment", "needs SLOs (--slo or the scenario's slo)",
                     min_slo_attainment);
    }
    struct TimeoutFlag {
      const char* name;
      const std::string* text;
      void (v1::Timeouts::*set)(uint32_t);
    };
    const TimeoutFlag timeouts[] = {
        {"--timeout", &timeout, &v1::Timeouts::set_total_ms},
        {"--first-byte-timeout", &first_byte_timeout, &v1::Timeouts::set_first_byte_ms},
        {"--idle-timeout", &idle_timeout, &v1::Timeouts::set_idle_ms},
        {"--connect-timeout", &connect_timeout, &v1::Timeouts::set_connect_ms},
    };
    for (const TimeoutFlag& f : timeouts) {
      if (f.text->empty()) continue;
      LLMBENCH_ASSIGN_OR_RETURN(uint32_t ms, ParseSecondsFlagMs(f.name, *f.text));
      for (v1::Engine& engine : *scenario->mutable_engines()) {
        (engine.mutable_timeouts()->*f.set)(ms);
        // --timeout alone bounds the wait for the first byte too: a first-byte timeout above
        // the new total (the default 60 s under --timeout 3s) is lowered to it rather than
        // reported as a contradiction in a field the user never wrote.
        v1::Timeouts* limits = engine.mutable_timeouts();
        if (f.set == &v1::Timeouts::set_total_ms && first_byte_timeout.empty() &&
            limits->has_first_byte_ms() && limits->first_byte_ms() > ms) {
          limits->set_first_byte_ms(ms);
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<RunOptions> Options(const std::string& base_dir) const {
    RunOptions o;
    o.workers = workers;
    o.out_dir = out;
    if (!local_workers.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(int64_t n, ParseIntFlag("--local-workers", local_workers, 1, 1024));
      o.local_workers = static_cast<int>(n);
    }
    o.loop_threads = loop_threads;
    o.quiet = quiet;
    o.check_engines = !no_engine_check;
    o.log_level = log_level;
    o.base_dir = base_dir;
    o.worker_timeout_ms = static_cast<int>(worker_timeout_s * 1000);
    o.tls_ca = tls_ca;
    o.tls_cert = tls_cert;
    o.tls_key = tls_key;
    o.token_file = token_file;
    o.repeat = repeat;
    o.monitors = monitors;
    o.metrics_listen = metrics_listen;
    return o;
  }
};

// Workload flags of quick/load/compare. Numbers are read as text and checked here, so that a
// bad value names its flag and is never wrapped, rounded or replaced by a default.
struct WorkloadFlags {
  std::string requests, concurrency, rate, max_tokens, prompt_tokens, warmup, duration;
  bool poisson = false;
  bool ignore_eos = false;
  bool no_stream = false;
  std::string api_key_env;
  WorkloadExtraFlags extra;  // --dataset, --seed, --header, --output-tokens-dist

  void Add(CLI::App* app, bool duration_required) {
    if (!duration_required) {
      app->add_option("--requests,-n", requests,
                      "Measured requests (default 100, or none with --duration alone)");
    }
    auto* c = app->add_option("--concurrency,-c", concurrency,
                              "Closed loop: requests in flight, 1 to 1000000 (default 1)");
    auto* r = app->add_option("--rate,-r", rate, "Open loop: requests per second (> 0)");
    c->excludes(r);
    app->add_flag("--poisson", poisson, "Poisson arrivals for --rate (default constant)");
    app->add_option("--max-tokens", max_tokens, "Max output tokens (default 128)");
    auto* prompt_option = app->add_option("--prompt-tokens", prompt_tokens,
                                          "Synthetic prompt length in tokens (default 128)");
    extra.Add(app, prompt_option);
    app->add_flag("--ignore-eos", ignore_eos, "Ask for exactly --max-tokens where the engine can");
    app->add_flag("--no-stream", no_stream, "Non-streaming requests");
    app->add_option("--warmup", warmup, "Warm-up requests, excluded from results");
    auto* d = app->add_option("--duration,-d", duration,
                              "Measured duration in seconds: alone, the run lasts that long; "
                              "with --requests, whichever bound comes first");
    if (duration_required) d->required();
    app->add_option("--api-key-env", api_key_env,
                    "Name of the environment variable holding the engines' API key, sent as "
                    "\"Authorization: Bearer <key>\" (the key itself is never a flag)");
  }

  absl::Status Apply(v1::Scenario* s, bool duration_bound) const {
    v1::Load* load = s->mutable_load();
    if (!rate.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(double rps, ParseNumberFlag("--rate", rate, 0, 1e7, true));
      load->mutable_rate()->set_rps(rps);
      load->mutable_rate()->set_arrival(poisson ? v1::ARRIVAL_POISSON : v1::ARRIVAL_CONSTANT);
    } else {
      if (poisson) return BadFlag("--poisson", "needs --rate", "");
      int64_t c = 1;
      if (!concurrency.empty()) {
        LLMBENCH_ASSIGN_OR_RETURN(c, ParseIntFlag("--concurrency", concurrency, 1, 1'000'000));
      }
      load->mutable_concurrency()->set_concurrency(static_cast<uint32_t>(c));
    }
    if (!duration.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(
          double d, ParseNumberFlag("--duration", duration, 0, 30.0 * 24 * 3600, true));
      load->set_duration_seconds(d);
    }
    if (!requests.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(int64_t n, ParseIntFlag("--requests", requests, 1, kMaxRequests));
      load->set_requests(static_cast<uint64_t>(n));
    } else if (!duration_bound && duration.empty()) {
      load->set_requests(100);
    }
    if (!warmup.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(int64_t w, ParseIntFlag("--warmup", warmup, 0, 1'000'000'000));
      load->set_warmup_requests(static_cast<uint64_t>(w));
    }
    int64_t tokens = 128;
    if (!max_tokens.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(tokens, ParseIntFlag("--max-tokens", max_tokens, 1, 1'000'000));
    }
    s->mutable_generation()->set_max_tokens(static_cast<uint32_t>(tokens));
    s->mutable_generation()->set_ignore_eos(ignore_eos);
    s->mutable_generation()->set_stream(!no_stream);
    int64_t prompt = 128;
    if (!prompt_tokens.empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(prompt,
                                ParseIntFlag("--prompt-tokens", prompt_tokens, 1, 1'000'000));
    }
    auto* input = s->mutable_prompts()->mutable_synthetic()->mutable_input_tokens();
    input->set_kind(v1::TokenLengthDistribution::KIND_FIXED);
    input->set_mean(static_cast<double>(prompt));
    if (!api_key_env.empty()) {
      for (v1::Engine& engine : *s->mutable_engines()) engine.set_api_key_env(api_key_env);
    }
    return extra.Apply(s);
  }
};

absl::StatusOr<v1::EngineKind> ParseKind(const std::string& text) {
  static const std::map<std::string, v1::EngineKind> kinds = {
      {"ollama", v1::ENGINE_KIND_OLLAMA},
      {"vllm", v1::ENGINE_KIND_VLLM},
      {"tgi", v1::ENGINE_KIND_TGI},
      {"openai", v1::ENGINE_KIND_OPENAI}};
  auto it = kinds.find(text);
  if (it == kinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown engine kind \"", text, "\" (expected ollama, vllm, tgi or openai)"));
  }
  return it->second;
}

absl::StatusOr<v1::Api> ParseApi(const std::string& text) {
  static const std::map<std::string, v1::Api> apis = {
      {"", v1::API_UNSPECIFIED},
      {"generate", v1::API_OLLAMA_GENERATE},
      {"chat", v1::API_OLLAMA_CHAT},
      {"completions", v1::API_COMPLETIONS},
      {"chat_completions", v1::API_CHAT_COMPLETIONS},
      {"tgi_generate", v1::API_TGI_GENERATE}};
  auto it = apis.find(text);
  if (it == apis.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown api \"", text,
        "\" (expected generate, chat, completions, chat_completions or tgi_generate)"));
  }
  return it->second;
}

// NAME=KIND,URL,MODEL[,API]
absl::StatusOr<v1::Engine> ParseTarget(const std::string& text) {
  std::pair<std::string, std::string> name_rest = absl::StrSplit(text, absl::MaxSplits('=', 1));
  std::vector<std::string> parts = absl::StrSplit(name_rest.second, ',');
  if (name_rest.first.empty() || parts.size() < 3 || parts.size() > 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--target \"", text,
        "\": expected NAME=KIND,URL,MODEL[,API], e.g. a=vllm,http://127.0.0.1:8000,my-model"));
  }
  v1::Engine engine;
  engine.set_name(name_rest.first);
  LLMBENCH_ASSIGN_OR_RETURN(v1::EngineKind kind, ParseKind(parts[0]));
  engine.set_kind(kind);
  engine.set_base_url(parts[1]);
  engine.set_model(parts[2]);
  if (parts.size() == 4) {
    LLMBENCH_ASSIGN_OR_RETURN(v1::Api api, ParseApi(parts[3]));
    engine.set_api(api);
  }
  return engine;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "llmbench: %s\n", std::string(status.message()).c_str());
  return kExitError;
}

int FailUsage(absl::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "llmbench %s: %s\n", std::string(command).c_str(),
               std::string(status.message()).c_str());
  return kExitUsage;
}

// Runs `scenario` (sweep, repeated or once) with the signal handlers installed for the run.
int RunAndReport(const v1::Scenario& scenario, RunOptions options, bool force) {
  std::string out = options.out_dir.empty() ? scenario.outputs().dir() : options.out_dir;
  if (!out.empty()) {
    if (absl::Status prepared = PrepareOutDir(out, force); !prepared.ok()) {
      std::fprintf(stderr, "llmbench: %s\n", std::string(prepared.message()).c_str());
      return kExitUsage;
    }
  }
  LiveMetrics live_metrics;  // served for the whole command when --metrics-listen is given
  std::unique_ptr<LiveMetricsServer> live_server;
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<LiveMetricsServer>> served =
        ServeLiveMetrics(options.metrics_listen, &live_metrics);
    if (!served.ok()) return Fail(served.status());
    live_server = *std::move(served);
    options.live_metrics = &live_metrics;
  }
  StopSignals signals;  // SIGINT/SIGTERM/SIGHUP stop the run gracefully; restored on return
  options.stop_signal = signals.flag();
  // A sweep profile runs the capacity sweep; --repeat K runs the scenario K times.
  if (scenario.load().has_sweep()) {
    if (options.repeat > 1) {
      return Fail(absl::InvalidArgumentError("--repeat does not apply to a sweep scenario"));
    }
    absl::StatusOr<RunOutcome> swept = RunSweep(scenario, options);
    if (!swept.ok()) return Fail(swept.status());
    PrintOutcome(*swept);
    return swept->exit_status;
  }
  if (options.repeat > 1) {
    absl::StatusOr<RepeatOutcome> repeated = RunRepeated(scenario, options, options.repeat);
    if (!repeated.ok()) return Fail(repeated.status());
    PrintRepeatOutcome(*repeated);
    return repeated->exit_status;
  }
  absl::StatusOr<RunOutcome> outcome = RunScenario(scenario, options);
  if (!outcome.ok()) return Fail(outcome.status());
  PrintOutcome(*outcome);
  return outcome->exit_status;
}

// Applies --url NAME=URL overrides.
absl::Status ApplyUrlOverrides(const std::vector<std::string>& overrides, v1::Scenario* scenario) {
  for (const std::string& o : overrides) {
    std::pair<std::string, std::string> kv = absl::StrSplit(o, absl::MaxSplits('=', 1));
    bool found = false;
    for (v1::Engine& engine : *scenario->mutable_engines()) {
      if (engine.name() == kv.first) {
        engine.set_base_url(kv.second);
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("--url ", o, ": the scenario has no engine named \"", kv.first, "\""));
    }
  }
  return absl::OkStatus();
}

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

// `run`, `quick`, `load` and `compare`: build the scenario, apply the flags, run.
class LoadCommands {
 public:
  void Add(CLI::App* app) {
    run_ = app->add_subcommand("run", "Run a scenario file");
    run_->footer(
        "Examples:\n"
        "  llmbench run examples/sim.yaml\n"
        "  llmbench run scenario.yaml --workers hostA:50051,hostB:50051 --out results/nightly\n"
        "  llmbench run examples/sim.yaml --url sim=http://127.0.0.1:8000");
    run_->add_option("scenario", scenario_path_, "Scenario YAML file")->required();
    run_->add_option("--url", url_overrides_,
                     "Override an engine's base URL: NAME=URL (repeatable)");
    run_flags_.Add(run_);

    quick_ = app->add_subcommand("quick", "Quick benchmark of one engine, flags only");
    quick_->footer(
        "Examples:\n"
        "  llmbench quick --engine ollama --url http://127.0.0.1:11434 --model llama3.2\n"
        "  llmbench quick -e vllm -u http://127.0.0.1:8000 -m Qwen/Qwen3-4B -n 500 -c 32 "
        "--max-tokens 256\n"
        "  llmbench quick -e tgi -u http://127.0.0.1:3000 -m tgi --rate 5 --poisson -n 200\n"
        "  llmbench quick -e vllm -u http://127.0.0.1:8000 -m m -c 64 -d 60 --slo ttft=500");
    AddSingle(quick_, &quick_engine_);
    quick_work_.Add(quick_, false);
    quick_flags_.Add(quick_);

    load_ = app->add_subcommand("load", "Sustained load at a fixed concurrency or rate");
    load_->footer(
        "Examples:\n"
        "  llmbench load -e vllm -u http://127.0.0.1:8000 -m my-model -c 64 --duration 600\n"
        "  llmbench load -e ollama -u http://127.0.0.1:11434 -m llama3.2 --rate 2 --poisson -d "
        "300");
    AddSingle(load_, &load_engine_);
    load_work_.Add(load_, true);
    load_flags_.Add(load_);

    compare_ = app->add_subcommand("compare", "Same workload against several engines");
    compare_->footer(
        "Examples:\n"
        "  llmbench compare --target a=vllm,http://10.0.0.1:8000,llama --target "
        "b=tgi,http://10.0.0.2:3000,llama -n 200 -c 16\n"
        "  llmbench compare --target a=... --target b=... -c 16 -d 120 --side-by-side\n"
        "  llmbench compare examples/compare-sim.yaml");
    compare_->add_option("scenario", compare_scenario_,
                         "Scenario with several engines (instead of --target)");
    compare_->add_option("--target,-t", targets_, "NAME=KIND,URL,MODEL[,API] (repeatable)");
    compare_->add_flag("--side-by-side", side_by_side_,
                       "Run every engine at the same time, each on its own share of the "
                       "workers (default: one after another)");
    compare_work_.Add(compare_, false);
    compare_flags_.Add(compare_);
  }

  // The exit status when one of the commands was chosen, else nullopt.
  std::optional<int> Run() {
    if (run_->parsed()) {
      absl::StatusOr<v1::Scenario> scenario = LoadScenarioFile(scenario_path_);
      if (!scenario.ok()) return Fail(scenario.status());
      const v1::Scenario loaded = *scenario;
      if (absl::Status s = ApplyUrlOverrides(url_overrides_, &*scenario); !s.ok()) {
        return FailUsage("run", s);
      }
      return Finish("run", &*scenario, run_flags_, DirOf(scenario_path_), &loaded);
    }
    if (quick_->parsed() || load_->parsed()) {
      const bool is_load = load_->parsed();
      const char* name = is_load ? "load" : "quick";
      absl::StatusOr<v1::Scenario> s = SingleEngine(is_load ? load_engine_ : quick_engine_);
      if (!s.ok()) return FailUsage(name, s.status());
      s->set_name(name);
      if (absl::Status a = (is_load ? load_work_ : quick_work_).Apply(&*s, is_load); !a.ok()) {
        return FailUsage(name, a);
      }
      ApplyScenarioDefaults(&*s);
      return Finish(name, &*s, is_load ? load_flags_ : quick_flags_, "", nullptr);
    }
    if (compare_->parsed()) {
      v1::Scenario s;
      std::string base_dir;
      std::optional<v1::Scenario> as_loaded;  // the file's scenario, validated by the loader
      if (!compare_scenario_.empty()) {
        absl::StatusOr<v1::Scenario> loaded = LoadScenarioFile(compare_scenario_);
        if (!loaded.ok()) return Fail(loaded.status());
        s = *loaded;
        as_loaded = *std::move(loaded);
        base_dir = DirOf(compare_scenario_);
      } else {
        if (targets_.size() < 2) {
          std::fprintf(stderr, "llmbench compare: give a scenario or at least two --target\n");
          return kExitUsage;
        }
        for (const std::string& t : targets_) {
          absl::StatusOr<v1::Engine> engine = ParseTarget(t);
          if (!engine.ok()) return FailUsage("compare", engine.status());
          *s.add_engines() = *std::move(engine);
        }
        s.set_name("compare");
        if (absl::Status a = compare_work_.Apply(&s, false); !a.ok()) return FailUsage("compare", a);
        ApplyScenarioDefaults(&s);
      }
      if (side_by_side_) s.mutable_load()->set_side_by_side(true);
      return Finish("compare", &s, compare_flags_, base_dir,
                    as_loaded.has_value() ? &*as_loaded : nullptr);
    }
    return std::nullopt;
  }

 private:
  struct SingleEngineFlags {
    std::string kind, url, model, api;
  };

  static void AddSingle(CLI::App* cmd, SingleEngineFlags* f) {
    cmd->add_option("--engine,-e", f->kind, "Engine kind: ollama | vllm | tgi | openai")
        ->required();
    cmd->add_option("--url,-u", f->url, "Engine base URL, e.g. http://127.0.0.1:11434")
        ->required();
    cmd->add_option("--model,-m", f->model, "Model name")->required();
    cmd->add_option("--api", f->api,
                    "Route: generate | chat (ollama), completions | chat_completions, "
                    "tgi_generate (default per kind)");
  }

  static absl::StatusOr<v1::Scenario> SingleEngine(const SingleEngineFlags& f) {
    v1::Scenario s;
    v1::Engine* engine = s.add_engines();
    LLMBENCH_ASSIGN_OR_RETURN(v1::EngineKind k, ParseKind(f.kind));
    LLMBENCH_ASSIGN_OR_RETURN(v1::Api a, ParseApi(f.api));
    engine->set_name(f.kind);
    engine->set_kind(k);
    engine->set_api(a);
    engine->set_base_url(f.url);
    engine->set_model(f.model);
    return s;
  }

  // Applies the shared flags, resolves the result and runs it. This is where a scenario is
  // validated, once, before RunAndReport (RunScenario, RunSweep and RunRepeated take it as
  // resolved and do not check again):
  // - built from flags (quick, load, compare --target; `as_loaded` nullptr): its caller
  //   applied the defaults; it is validated here for the first and only time.
  // - loaded from a file (`as_loaded`: the scenario as LoadScenarioFile returned it, defaulted
  //   and validated with FILE:LINE:COL messages): validated again only when --url or a flag
  //   changed it, since a flag's value can break a rule the file met (--timeout below the
  //   file's first_byte_ms, --url with no host).
  // A scenario that fails is reported as before, when RunScenario checked it: "llmbench: WHY",
  // exit status 1.
  static int Finish(const char* name, v1::Scenario* scenario, const RunFlags& flags,
                    const std::string& base_dir, const v1::Scenario* as_loaded) {
    if (absl::Status applied = flags.ApplyToScenario(scenario); !applied.ok()) {
      return FailUsage(name, applied);
    }
    absl::StatusOr<RunOptions> options = flags.Options(base_dir);
    if (!options.ok()) return FailUsage(name, options.status());
    if (as_loaded == nullptr ||
        !google::protobuf::util::MessageDifferencer::Equals(*as_loaded, *scenario)) {
      ValidateOptions checks;
      checks.base_dir = options->base_dir;
      if (absl::Status valid = ValidateScenario(*scenario, checks); !valid.ok()) {
        return Fail(valid);
      }
    }
    return RunAndReport(*scenario, *std::move(options), flags.force);
  }

  CLI::App* run_ = nullptr;
  CLI::App* quick_ = nullptr;
  CLI::App* load_ = nullptr;
  CLI::App* compare_ = nullptr;
  std::string scenario_path_;
  std::vector<std::string> url_overrides_;
  RunFlags run_flags_, quick_flags_, load_flags_, compare_flags_;
  SingleEngineFlags quick_engine_, load_engine_;
  WorkloadFlags quick_work_, load_work_, compare_work_;
  std::string compare_scenario_;
  std::vector<std::string> targets_;
  bool side_by_side_ = false;
};

// `engines`: health, version and models of each engine.
class EnginesCommand {
 public:
  void Add(CLI::App* app) {
    command_ = app->add_subcommand("engines", "Health, version and models of each engine");
    command_->footer(
        "Exit status: 0 every engine is ready (healthy and serving its model); 1 otherwise.\n"
        "Examples:\n"
        "  llmbench engines --target local=ollama,http://127.0.0.1:11434,llama3.2\n"
        "  llmbench engines examples/vllm.yaml");
    command_->add_option("scenario", scenario_, "Scenario file whose engines to check");
    command_->add_option("--target,-t", targets_, "NAME=KIND,URL,MODEL (repeatable)");
  }
  bool Parsed() const { return command_->parsed(); }
  int Run() const {
    std::vector<v1::Engine> list;
    if (!scenario_.empty()) {
      absl::StatusOr<v1::Scenario> loaded = LoadScenarioFile(scenario_);
      if (!loaded.ok()) return Fail(loaded.status());
      list.assign(loaded->engines().begin(), loaded->engines().end());
    }
    for (const std::string& t : targets_) {
      absl::StatusOr<v1::Engine> engine = ParseTarget(t);
      if (!engine.ok()) return FailUsage("engines", engine.status());
      list.push_back(*std::move(engine));
    }
    if (list.empty()) {
      std::fprintf(stderr, "llmbench engines: give a scenario or --target\n");
      return kExitUsage;
    }
    int status = 0;
    for (const v1::Engine& engine : list) {
      EngineReport r = CheckEngine(engine);
      std::fputs(FormatEngineReport(r).c_str(), stdout);
      if (!EngineReady(r)) status = kExitError;  // unhealthy, model missing or wrong kind
    }
    return status;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string scenario_;
  std::vector<std::string> targets_;
};

// `report DIR`: re-render a stored result.
class ReportCommand {
 public:
  void Add(CLI::App* app) {
    command_ = app->add_subcommand("report", "Re-render results from a stored summary.json");
    command_->footer("Example:\n  llmbench report results/20261127-120000-ab12");
    command_->add_option("dir", dir_, "Results folder")->required();
  }
  bool Parsed() const { return command_->parsed(); }
  int Run() const {
    absl::StatusOr<v1::RunResult> result = LoadRunResult(dir_);
    if (!result.ok()) return Fail(result.status());
    std::fputs(ConsoleSummary(*result).c_str(), stdout);
    if (absl::Status html = WriteHtmlReport(dir_); !html.ok()) return Fail(html);
    std::printf("report: %s/%s\n", dir_.c_str(), kHtmlReportFileName);
    std::string reason;
    const int status = ExitStatusFor(*result, result->scenario().thresholds(), &reason);
    if (status != 0) std::printf("exit status %d: %s\n", status, reason.c_str());
    return status;
  }

 private:
  CLI::App* command_ = nullptr;
  std::string dir_;
};

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{absl::StrCat(
      "llmbench ", kVersion,
      " — distributed load generator and benchmark for LLM serving engines.\n\n"
      "Examples:\n"
      "  llmbench quick --engine ollama --url http://127.0.0.1:11434 --model llama3.2 -n 50 -c 4\n"
      "  llmbench run examples/vllm.yaml --workers 10.0.0.5:50051,10.0.0.6:50051\n"
      "  llmbench validate examples/sim.yaml\n"
      "  llmbench report results/20261127-120000-ab12\n"
      "  llmbench diff results/base results/candidate --max-regression ttft_p99=10%\n\n"
      "Exit status: 0 ok; 1 error; 2 usage; 3 a threshold crossed (error rate, SLO "
      "attainment); 4 INVALID (the load generator fell behind); 5 diff: a metric regressed; "
      "6 ENGINE_DOWN; 7 diff: nothing compared; 128+N stopped by signal N (130 Ctrl-C, 143 "
      "SIGTERM). See docs/cli.md.\n")};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("llmbench ") + kVersion);

  LoadCommands load_commands;
  load_commands.Add(&app);
  EnginesCommand engines;
  engines.Add(&app);
  DiffCommand diff;  // llmbench diff BASE CANDIDATE: the regression check (cli_diff.h)
  diff.Add(&app);
  HealthCommand health;  // llmbench health ADDRESS: container and Kubernetes probes
  health.Add(&app);
  ValidateCommand validate;  // llmbench validate SCENARIO: what a run would do, nothing sent
  validate.Add(&app);
  ReportCommand report;
  report.Add(&app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  InitLogging("coordinator", "warn");

  if (std::optional<int> status = load_commands.Run()) return *status;
  if (engines.Parsed()) return engines.Run();
  if (diff.Parsed()) return diff.Run();
  if (health.Parsed()) return health.Run();
  if (validate.Parsed()) return validate.Run();
  if (report.Parsed()) return report.Run();
  return kExitUsage;
}

}  // namespace llmbench::coordinator
