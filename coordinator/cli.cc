#include "coordinator/cli.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/cli_diff.h"
#include "coordinator/cli_health.h"
#include "coordinator/dispatch.h"
#include "coordinator/dispatch_repeat.h"
#include "coordinator/dispatch_sweep.h"
#include "coordinator/engine_check.h"
#include "coordinator/exporters.h"
#include "coordinator/html_report.h"
#include "coordinator/live_metrics.h"
#include "coordinator/scenario_loader.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// Flags shared by every command that runs load.
struct RunFlags {
  std::vector<std::string> workers;
  std::string out;
  int local_workers = 0;
  int loop_threads = 1;
  bool quiet = false;
  bool no_engine_check = false;
  std::string log_level = "warn";
  double worker_timeout_s = 5;
  std::string tls_ca, tls_cert, tls_key, token_file;
  int repeat = 1;
  std::vector<std::string> monitors;
  std::string metrics_listen;

  void Add(CLI::App* app) {
    app->add_option("--workers", workers,
                    "Remote llmbench-worker addresses host:port (comma-separated); a DNS name "
                    "stands for every address it resolves to; default: start local workers")
        ->delimiter(',');
    app->add_option("--out", out, "Results folder (default results/<run-id>)");
    app->add_option("--local-workers", local_workers, "Local worker processes (default: one per core)");
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
                    "File holding the remote workers' shared token (default: $LLMBENCH_TOKEN)");
    app->add_option("--monitor", monitors,
                    "Host monitor HOST:PORT (`llmbench-worker --monitor`, usually on the engine "
                    "host) sampled for the length of the run: CPU, memory, network, GPU "
                    "(repeatable)");
    app->add_option("--metrics-listen", metrics_listen,
                    "Serve live Prometheus metrics at http://HOST:PORT/metrics during the run "
                    "(port 0: any free port; the address is printed to stderr)");
  }
  RunOptions Options(const std::string& base_dir) const {
    RunOptions o;
    o.workers = workers;
    o.out_dir = out;
    o.local_workers = local_workers;
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

// Workload flags of quick/load/compare.
struct WorkloadFlags {
  uint64_t requests = 100;
  uint32_t concurrency = 0;
  double rate = 0;
  bool poisson = false;
  uint32_t max_tokens = 128;
  uint32_t prompt_tokens = 128;
  bool ignore_eos = false;
  bool no_stream = false;
  double duration = 0;
  uint64_t warmup = 0;
  std::string api_key_env;

  void Add(CLI::App* app, bool duration_required) {
    if (!duration_required) app->add_option("--requests,-n", requests, "Measured requests (default 100)");
    auto* c = app->add_option("--concurrency,-c", concurrency, "Closed loop: requests in flight");
    auto* r = app->add_option("--rate,-r", rate, "Open loop: requests per second");
    c->excludes(r);
    app->add_flag("--poisson", poisson, "Poisson arrivals for --rate (default constant)");
    app->add_option("--max-tokens", max_tokens, "Max output tokens (default 128)");
    app->add_option("--prompt-tokens", prompt_tokens, "Synthetic prompt length in tokens (default 128)");
    app->add_flag("--ignore-eos", ignore_eos, "Ask for exactly --max-tokens where the engine can");
    app->add_flag("--no-stream", no_stream, "Non-streaming requests");
    app->add_option("--warmup", warmup, "Warm-up requests, excluded from results");
    auto* d = app->add_option("--duration,-d", duration, "Measured duration in seconds");
    if (duration_required) d->required();
    app->add_option("--api-key-env", api_key_env,
                    "Name of the environment variable holding the engines' API key, sent as "
                    "\"Authorization: Bearer <key>\" (the key itself is never a flag)");
  }
  void Apply(v1::Scenario* s, bool duration_bound) const {
    v1::Load* load = s->mutable_load();
    if (rate > 0) {
      load->mutable_rate()->set_rps(rate);
      load->mutable_rate()->set_arrival(poisson ? v1::ARRIVAL_POISSON : v1::ARRIVAL_CONSTANT);
    } else {
      load->mutable_concurrency()->set_concurrency(concurrency > 0 ? concurrency : 1);
    }
    if (duration_bound || duration > 0) {
      load->set_duration_seconds(duration);
    }
    if (!duration_bound) load->set_requests(requests);
    load->set_warmup_requests(warmup);
    s->mutable_generation()->set_max_tokens(max_tokens);
    s->mutable_generation()->set_ignore_eos(ignore_eos);
    s->mutable_generation()->set_stream(!no_stream);
    auto* input = s->mutable_prompts()->mutable_synthetic()->mutable_input_tokens();
    input->set_kind(v1::TokenLengthDistribution::KIND_FIXED);
    input->set_mean(prompt_tokens);
    if (!api_key_env.empty()) {
      for (v1::Engine& engine : *s->mutable_engines()) engine.set_api_key_env(api_key_env);
    }
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
        "--target \"", text, "\": expected NAME=KIND,URL,MODEL[,API], e.g. a=vllm,http://127.0.0.1:8000,my-model"));
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

int RunAndReport(v1::Scenario scenario, RunOptions options) {
  LiveMetrics live_metrics;  // served for the whole command when --metrics-listen is given
  std::unique_ptr<LiveMetricsServer> live_server;
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<LiveMetricsServer>> served =
        ServeLiveMetrics(options.metrics_listen, &live_metrics);
    if (!served.ok()) return Fail(served.status());
    live_server = *std::move(served);
    options.live_metrics = &live_metrics;
  }
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

absl::StatusOr<v1::Scenario> LoadWithOverrides(const std::string& path,
                                               const std::vector<std::string>& overrides) {
  LLMBENCH_ASSIGN_OR_RETURN(v1::Scenario scenario, LoadScenarioFile(path));
  LLMBENCH_RETURN_IF_ERROR(ApplyUrlOverrides(overrides, &scenario));
  return scenario;
}

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{absl::StrCat(
      "llmbench ", kVersion,
      " — distributed load generator and benchmark for LLM serving engines.\n\n"
      "Examples:\n"
      "  llmbench quick --engine ollama --url http://127.0.0.1:11434 --model llama3.2 -n 50 -c 4\n"
      "  llmbench run examples/vllm.yaml --workers 10.0.0.5:50051,10.0.0.6:50051\n"
      "  llmbench report results/20261127-120000-ab12\n"
      "  llmbench diff results/base results/candidate --max-regression ttft_p99=10%\n")};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("llmbench ") + kVersion);

  // run
  CLI::App* run = app.add_subcommand("run", "Run a scenario file");
  run->footer(
      "Examples:\n"
      "  llmbench run examples/sim.yaml\n"
      "  llmbench run scenario.yaml --workers hostA:50051,hostB:50051 --out results/nightly\n"
      "  llmbench run examples/sim.yaml --url sim=http://127.0.0.1:8000");
  std::string scenario_path;
  std::vector<std::string> url_overrides;
  RunFlags run_flags;
  run->add_option("scenario", scenario_path, "Scenario YAML file")->required();
  run->add_option("--url", url_overrides, "Override an engine's base URL: NAME=URL (repeatable)");
  run_flags.Add(run);

  // quick / load
  auto add_single = [&](CLI::App* cmd, std::string* kind, std::string* url, std::string* model,
                        std::string* api) {
    cmd->add_option("--engine,-e", *kind, "Engine kind: ollama | vllm | tgi | openai")->required();
    cmd->add_option("--url,-u", *url, "Engine base URL, e.g. http://127.0.0.1:11434")->required();
    cmd->add_option("--model,-m", *model, "Model name")->required();
    cmd->add_option("--api", *api,
                    "Route: generate | chat (ollama), completions | chat_completions, "
                    "tgi_generate (default per kind)");
  };
  CLI::App* quick = app.add_subcommand("quick", "Quick benchmark of one engine, flags only");
  quick->footer(
      "Examples:\n"
      "  llmbench quick --engine ollama --url http://127.0.0.1:11434 --model llama3.2\n"
      "  llmbench quick -e vllm -u http://127.0.0.1:8000 -m Qwen/Qwen3-4B -n 500 -c 32 --max-tokens 256\n"
      "  llmbench quick -e tgi -u http://127.0.0.1:3000 -m tgi --rate 5 --poisson -n 200");
  std::string q_kind, q_url, q_model, q_api;
  WorkloadFlags q_work;
  RunFlags q_flags;
  add_single(quick, &q_kind, &q_url, &q_model, &q_api);
  q_work.Add(quick, false);
  q_flags.Add(quick);

  CLI::App* load = app.add_subcommand("load", "Sustained load at a fixed concurrency or rate");
  load->footer(
      "Examples:\n"
      "  llmbench load -e vllm -u http://127.0.0.1:8000 -m my-model -c 64 --duration 600\n"
      "  llmbench load -e ollama -u http://127.0.0.1:11434 -m llama3.2 --rate 2 --poisson -d 300");
  std::string l_kind, l_url, l_model, l_api;
  WorkloadFlags l_work;
  RunFlags l_flags;
  add_single(load, &l_kind, &l_url, &l_model, &l_api);
  l_work.Add(load, true);
  l_flags.Add(load);

  CLI::App* compare = app.add_subcommand("compare", "Same workload against several engines");
  compare->footer(
      "Examples:\n"
      "  llmbench compare --target a=vllm,http://10.0.0.1:8000,llama --target b=tgi,http://10.0.0.2:3000,llama -n 200 -c 16\n"
      "  llmbench compare examples/compare-sim.yaml");
  std::vector<std::string> c_targets;
  std::string c_scenario;
  WorkloadFlags c_work;
  RunFlags c_flags;
  compare->add_option("scenario", c_scenario, "Scenario with several engines (instead of --target)");
  compare->add_option("--target,-t", c_targets, "NAME=KIND,URL,MODEL[,API] (repeatable)");
  c_work.Add(compare, false);
  c_flags.Add(compare);

  CLI::App* engines = app.add_subcommand("engines", "Health, version and models of each engine");
  engines->footer(
      "Examples:\n"
      "  llmbench engines --target local=ollama,http://127.0.0.1:11434,llama3.2\n"
      "  llmbench engines examples/vllm.yaml");
  std::vector<std::string> e_targets;
  std::string e_scenario;
  engines->add_option("scenario", e_scenario, "Scenario file whose engines to check");
  engines->add_option("--target,-t", e_targets, "NAME=KIND,URL,MODEL (repeatable)");

  DiffCommand diff;  // llmbench diff BASE CANDIDATE: the regression check (cli_diff.h)
  diff.Add(&app);

  HealthCommand health;  // llmbench health ADDRESS: container and Kubernetes probes
  health.Add(&app);

  CLI::App* report = app.add_subcommand("report", "Re-render results from a stored summary.json");
  report->footer("Example:\n  llmbench report results/20261127-120000-ab12");
  std::string report_dir;
  report->add_option("dir", report_dir, "Results folder")->required();

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

  auto single_engine = [&](const std::string& kind, const std::string& url,
                           const std::string& model, const std::string& api)
      -> absl::StatusOr<v1::Scenario> {
    v1::Scenario s;
    v1::Engine* engine = s.add_engines();
    LLMBENCH_ASSIGN_OR_RETURN(v1::EngineKind k, ParseKind(kind));
    LLMBENCH_ASSIGN_OR_RETURN(v1::Api a, ParseApi(api));
    engine->set_name(kind);
    engine->set_kind(k);
    engine->set_api(a);
    engine->set_base_url(url);
    engine->set_model(model);
    return s;
  };

  if (run->parsed()) {
    absl::StatusOr<v1::Scenario> scenario = LoadWithOverrides(scenario_path, url_overrides);
    if (!scenario.ok()) return Fail(scenario.status());
    return RunAndReport(*scenario, run_flags.Options(DirOf(scenario_path)));
  }
  if (quick->parsed() || load->parsed()) {
    const bool is_load = load->parsed();
    absl::StatusOr<v1::Scenario> s = is_load ? single_engine(l_kind, l_url, l_model, l_api)
                                             : single_engine(q_kind, q_url, q_model, q_api);
    if (!s.ok()) return Fail(s.status());
    s->set_name(is_load ? "load" : "quick");
    (is_load ? l_work : q_work).Apply(&*s, is_load);
    ApplyScenarioDefaults(&*s);
    return RunAndReport(*s, (is_load ? l_flags : q_flags).Options(""));
  }
  if (compare->parsed()) {
    v1::Scenario s;
    std::string base_dir;
    if (!c_scenario.empty()) {
      absl::StatusOr<v1::Scenario> loaded = LoadScenarioFile(c_scenario);
      if (!loaded.ok()) return Fail(loaded.status());
      s = *std::move(loaded);
      base_dir = DirOf(c_scenario);
    } else {
      if (c_targets.size() < 2) {
        std::fprintf(stderr, "llmbench compare: give a scenario or at least two --target\n");
        return kExitUsage;
      }
      for (const std::string& t : c_targets) {
        absl::StatusOr<v1::Engine> engine = ParseTarget(t);
        if (!engine.ok()) return Fail(engine.status());
        *s.add_engines() = *std::move(engine);
      }
      s.set_name("compare");
      c_work.Apply(&s, false);
      ApplyScenarioDefaults(&s);
    }
    return RunAndReport(s, c_flags.Options(base_dir));
  }
  if (engines->parsed()) {
    std::vector<v1::Engine> list;
    if (!e_scenario.empty()) {
      absl::StatusOr<v1::Scenario> loaded = LoadScenarioFile(e_scenario);
      if (!loaded.ok()) return Fail(loaded.status());
      list.assign(loaded->engines().begin(), loaded->engines().end());
    }
    for (const std::string& t : e_targets) {
      absl::StatusOr<v1::Engine> engine = ParseTarget(t);
      if (!engine.ok()) return Fail(engine.status());
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
      if (!r.healthy) status = kExitError;
    }
    return status;
  }
  if (diff.Parsed()) return diff.Run();
  if (health.Parsed()) return health.Run();
  if (report->parsed()) {
    absl::StatusOr<v1::RunResult> result = LoadRunResult(report_dir);
    if (!result.ok()) return Fail(result.status());
    std::fputs(ConsoleSummary(*result).c_str(), stdout);
    if (absl::Status html = WriteHtmlReport(report_dir); !html.ok()) return Fail(html);
    std::printf("report: %s/%s\n", report_dir.c_str(), kHtmlReportFileName);
    std::string reason;
    int status = ExitStatusFor(*result, result->scenario().thresholds(), &reason);
    if (status != 0) std::printf("exit status %d: %s\n", status, reason.c_str());
    return status;
  }
  return kExitUsage;
}

}  // namespace llmbench::coordinator
