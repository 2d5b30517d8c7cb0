#include "coordinator/cli_workload_flags.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "coordinator/prompts.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

absl::Status BadFlag(absl::string_view flag, absl::string_view why, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why, ", got \"", text, "\""));
}

bool HasControl(absl::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool IsTagKey(absl::string_view key) {
  return !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool IsHeaderName(absl::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

}  // namespace

void RunLabelFlags::Add(CLI::App* app) {
  app->add_option("--tag", tags,
                  "A label K=V recorded in summary.json, shown in the report and by `diff` "
                  "(repeatable)");
  app->add_option("--label", label, "A name for the run, recorded and shown like --tag");
  app->add_flag("--export-text", export_text,
                "Write requests.jsonl: each request's prompt and the engine's reply (replies "
                "kept up to --export-text-max-bytes, default 65536 bytes each)");
  app->add_option("--export-text-max-bytes", export_text_max_bytes,
                  "Reply bytes kept per request for --export-text (1 to 1048576)");
  app->add_option("--gpu-metrics", gpu_metrics,
                  "URL of an NVIDIA DCGM exporter (http://gpu-host:9400/metrics) scraped during "
                  "the run: GPU utilization, memory, power, ... (repeatable)");
  app->add_option("--tokenizer", tokenizer,
                  "A local tokenizer.json that counts prompt tokens when the engine has no "
                  "tokenize route (no download)");
  app->add_option("--prompt-lengths", prompt_lengths,
                  "How prompt tokens are counted: auto (default: the engine's tokenize route, "
                  "else --tokenizer, else words), engine, tokenizer or words");
}

absl::Status RunLabelFlags::Apply(v1::Scenario* scenario) const {
  for (const std::string& tag : tags) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(tag, absl::MaxSplits('=', 1));
    if (!IsTagKey(kv.first) || !absl::StrContains(tag, '=')) {
      return BadFlag("--tag", "expected K=V with K of A-Z a-z 0-9 _ . - (at most 64)", tag);
    }
    if (kv.second.size() > 256 || HasControl(kv.second)) {
      return BadFlag("--tag", "a value is at most 256 bytes without control characters", tag);
    }
    (*scenario->mutable_tags())[std::string(kv.first)] = std::string(kv.second);
  }
  if (!label.empty()) {
    if (label.size() > 256 || HasControl(label)) {
      return BadFlag("--label", "at most 256 bytes without control characters", label);
    }
    scenario->set_label(label);
  }
  if (export_text) scenario->mutable_outputs()->set_text(true);
  if (!export_text_max_bytes.empty()) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(export_text_max_bytes, &n) || n < 1 || n > (1u << 20)) {
      return BadFlag("--export-text-max-bytes", "must be between 1 and 1048576",
                     export_text_max_bytes);
    }
    scenario->mutable_outputs()->set_text_max_bytes(n);
  }
  for (const std::string& url : gpu_metrics) {
    const bool http = absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
    if (!http || url.size() <= 8 || HasControl(url) || absl::StrContains(url, ' ')) {
      return BadFlag("--gpu-metrics", "must be an http:// or https:// URL", url);
    }
    scenario->mutable_telemetry()->add_gpu_metrics(url);
  }
  if (!tokenizer.empty()) {
    // Relative to the current folder (a scenario's own path is relative to its file).
    std::error_code ec;
    const std::string absolute = std::filesystem::absolute(tokenizer, ec).string();
    if (ec || ::access(absolute.c_str(), R_OK) != 0 ||
        std::filesystem::is_directory(absolute, ec)) {
      return BadFlag("--tokenizer", "must be a readable tokenizer.json file", tokenizer);
    }
    scenario->mutable_prompts()->set_tokenizer(absolute);
  }
  if (!prompt_lengths.empty()) {
    const std::string m = absl::AsciiStrToLower(prompt_lengths);
    v1::PromptLengthMethod method;
    if (m == "auto") {
      method = v1::PROMPT_LENGTH_METHOD_AUTO;
    } else if (m == "engine") {
      method = v1::PROMPT_LENGTH_METHOD_ENGINE;
    } else if (m == "tokenizer") {
      method = v1::PROMPT_LENGTH_METHOD_TOKENIZER;
    } else if (m == "words") {
      method = v1::PROMPT_LENGTH_METHOD_WORDS;
    } else {
      return BadFlag("--prompt-lengths", "expected auto, engine, tokenizer or words",
                     prompt_lengths);
    }
    if (method == v1::PROMPT_LENGTH_METHOD_TOKENIZER && scenario->prompts().tokenizer().empty()) {
      return BadFlag("--prompt-lengths", "tokenizer needs --tokenizer PATH", prompt_lengths);
    }
    scenario->mutable_prompts()->set_length_method(method);
  }
  return absl::OkStatus();
}

void WorkloadExtraFlags::Add(CLI::App* app, CLI::Option* prompt_tokens) {
  auto* dataset_option = app->add_option(
      "--dataset", dataset, "Prompts from a ShareGPT JSON or JSONL file instead of synthetic ones");
  if (prompt_tokens != nullptr) dataset_option->excludes(prompt_tokens);
  app->add_option("--seed", seed,
                  "Master seed: synthetic prompts, output lengths, Poisson arrivals (default 42)");
  app->add_option("--header", headers,
                  "Extra request header NAME:VALUE for every engine (repeatable)");
  app->add_option("--output-tokens-dist", output_tokens_dist,
                  "Per-request output lengths: fixed:N, uniform:MIN:MAX, normal:MEAN:STDDEV, "
                  "lognormal:MEAN:SIGMA (both with optional :MIN:MAX), or dataset (the "
                  "dataset's reply lengths)");
  trace.Add(app);
  app->add_option("--turns", multi_turn.turns,
                  "Multi-turn sessions of N turns, each sending the whole conversation on the "
                  "chat route (with --dataset: at most N human turns, 0 = all)");
  app->add_option("--think-time", multi_turn.think_time,
                  "Multi-turn: wait after a reply before the next turn: 500ms, 2s, or fixed:MS, "
                  "uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX], lognormal:MEAN:SIGMA[:MIN:MAX] "
                  "in ms (default 0)");
  app->add_option("--load-unit", multi_turn.load_unit,
                  "Multi-turn: what --concurrency and --rate count: sessions (default) or "
                  "requests");
  app->add_option("--sessions", multi_turn.sessions,
                  "Multi-turn: measured sessions (default: --requests / --turns, rounded up)");
}

absl::Status WorkloadExtraFlags::Apply(v1::Scenario* scenario) const {
  if (!dataset.empty()) {
    std::error_code ec;
    const std::string absolute = std::filesystem::absolute(dataset, ec).string();
    if (ec || ::access(absolute.c_str(), R_OK) != 0 ||
        std::filesystem::is_directory(absolute, ec)) {
      return BadFlag("--dataset", "must be a readable dataset file", dataset);
    }
    scenario->mutable_prompts()->mutable_dataset()->set_path(absolute);
  }
  if (!seed.empty()) {
    uint64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(seed), &value) ||
        absl::StrContains(seed, '-')) {
      return BadFlag("--seed",
                     absl::StrCat("must be a whole number between 0 and ",
                                  std::numeric_limits<uint64_t>::max()),
                     seed);
    }
    scenario->set_seed(value);
  }
  for (const std::string& header : headers) {
    if (header.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return BadFlag("--header", "a header must not contain CR, LF or NUL", header);
    }
    const size_t colon = header.find(':');
    const absl::string_view name = colon == std::string::npos
                                       ? absl::string_view()
                                       : absl::string_view(header).substr(0, colon);
    if (!IsHeaderName(name)) {
      return BadFlag("--header", "expected NAME:VALUE with NAME an HTTP token", header);
    }
    const std::string value(
        absl::StripAsciiWhitespace(absl::string_view(header).substr(colon + 1)));
    for (v1::Engine& engine : *scenario->mutable_engines()) {
      (*engine.mutable_headers())[std::string(name)] = value;
    }
  }
  if (!output_tokens_dist.empty()) {
    LLMBENCH_RETURN_IF_ERROR(
        ParseOutputTokensDist(output_tokens_dist, scenario->mutable_generation()));
    if (scenario->generation().output_tokens_from_dataset() && dataset.empty()) {
      return BadFlag("--output-tokens-dist", "dataset needs --dataset", output_tokens_dist);
    }
  }
  LLMBENCH_RETURN_IF_ERROR(multi_turn.Apply(scenario));
  return trace.Apply(scenario);
}

}  // namespace llmbench::coordinator
