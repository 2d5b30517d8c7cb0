// llmbench-sim: the engine simulator. Parses flags and runs SimServer (see sim/sim_server.h).
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "sim/sim_config.h"
#include "sim/sim_server.h"

int main(int argc, char** argv) {
  using llmbench::sim::SimConfig;
  SimConfig cfg;
  std::vector<std::string> listens;
  std::vector<std::string> faults;
  CLI::App app{"llmbench-sim: simulates Ollama, vLLM and TGI HTTP servers"};
  app.add_option("--listen", listens, "KIND=HOST:PORT (KIND: ollama|vllm|tgi; PORT 0 = ephemeral)");
  app.add_option("--model", cfg.model, "model id served");
  app.add_option("--ttft-base-ms", cfg.latency.ttft_base_ms, "prefill base time (ms)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--ttft-per-token-us", cfg.latency.ttft_per_token_us,
                 "prefill cost per prompt token (us)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--itl-ms", cfg.latency.itl_ms, "decode step time at batch size 1 (ms)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--itl-per-seq-us", cfg.latency.itl_per_seq_us,
                 "extra step time per running sequence (us)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-batch", cfg.latency.max_batch, "max sequences decoding together")
      ->check(CLI::PositiveNumber);
  app.add_option("--jitter", cfg.latency.jitter, "relative uniform jitter on prefill and steps")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", cfg.latency.seed, "seed for jitter, token text and faults");
  app.add_option("--natural-tokens", cfg.natural_tokens,
                 "0 = never EOS; N>0 = EOS after N tokens unless ignore_eos")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-model-len", cfg.max_model_len, "context length")
      ->check(CLI::PositiveNumber);
  app.add_option("--fault-rate", cfg.fault_rate, "probability that a request gets a fault")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--fault", faults, "fault kinds drawn for --fault-rate (default: all)");
  app.add_option("--threads", cfg.threads, "io threads")->check(CLI::Range(1, 256));
  app.add_flag("--reuse-port", cfg.reuse_port,
               "SO_REUSEPORT: several simulators may listen on the same port (the kernel spreads "
               "connections over them)");
  std::string tokenizer = "words";
  app.add_option("--tokenizer", tokenizer,
                 "how prompt tokens are counted (generation routes and /tokenize alike): words = "
                 "one per whitespace-separated word; subword4 = ceil(bytes/4) per word")
      ->check(CLI::IsMember({"words", "subword4"}));
  app.add_option("--log-level", cfg.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return e.get_exit_code() == 0 ? rc : 2;
  }
  cfg.token_rule = tokenizer == "subword4" ? llmbench::sim::TokenRule::kSubword4
                                           : llmbench::sim::TokenRule::kWords;
  for (const auto& l : listens) {
    auto spec = llmbench::sim::ParseListenSpec(l);
    if (!spec.ok()) {
      std::cerr << "llmbench-sim: " << spec.status().message() << "\n";
      return 2;
    }
    cfg.listens.push_back(*spec);
  }
  for (const auto& f : faults) {
    auto kind = llmbench::sim::ParseFaultKind(f);
    if (!kind.ok()) {
      std::cerr << "llmbench-sim: --fault: " << kind.status().message() << "\n";
      return 2;
    }
    cfg.fault_kinds.push_back(*kind);
  }
  llmbench::InitLogging("sim", cfg.log_level);
  // Thousands of concurrent streams need as many descriptors as the hard limit allows.
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  llmbench::sim::SimServer server(cfg);
  // Before the `listening` lines: a SIGTERM right after them must stop the server cleanly.
  server.HandleSignals();
  if (auto st = server.Start(); !st.ok()) {
    std::cerr << "llmbench-sim: " << st.message() << "\n";
    return 1;
  }
  for (const auto& ep : server.Endpoints()) {
    std::fputs((llmbench::sim::ListeningLine(ep) + "\n").c_str(), stdout);
  }
  std::fflush(stdout);
  server.Run(/*handle_signals=*/true);
  return 0;
}
