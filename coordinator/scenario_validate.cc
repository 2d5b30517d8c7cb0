#include "coordinator/scenario_validate.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "coordinator/dataset_file.h"
#include "coordinator/multi_turn.h"
#include "coordinator/scenario_defaults.h"
#include "coordinator/scenario_fields.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"

namespace llmbench::coordinator {
namespace {

namespace pb = google::protobuf;
using llmbench::v1::Scenario;
using scenario_internal::ChildPath;
using scenario_internal::EnumChoices;
using scenario_internal::Quote;
using scenario_internal::ShownPath;

std::string FormatNumber(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return absl::StrCat(base_dir, "/", path);
}

// ---- validation ---------------------------------------------------------------------------------

// A numeric range for one proto field, wherever the field appears.
struct RangeRule {
  const char* field;  // full name, e.g. "llmbench.v1.RateLoad.rps"
  double min;
  double max;
  bool min_exclusive;
};

constexpr double kMaxRps = 10'000'000;
constexpr double kMaxSeconds = 30.0 * 24 * 3600;

// The table of range checks. A field is checked when its message is present (fields without
// presence are checked even when zero; `optional` fields only when set).
constexpr RangeRule kRangeRules[] = {
    {"llmbench.v1.Timeouts.connect_ms", 1, 3'600'000, false},
    {"llmbench.v1.Timeouts.first_byte_ms", 1, 86'400'000, false},
    {"llmbench.v1.Timeouts.total_ms", 1, 86'400'000, false},
    {"llmbench.v1.Timeouts.idle_ms", 1, 86'400'000, false},
    {"llmbench.v1.Engine.price_per_hour", 0, 1e9, false},
    {"llmbench.v1.Engine.gpu_count", 1, 1'000'000, false},
    {"llmbench.v1.SyntheticPrompts.count", 1, 1'000'000, false},
    {"llmbench.v1.DatasetPrompts.max_prompts", 0, 100'000'000, false},
    {"llmbench.v1.SharedPrefix.prefix_tokens", 0, 1'000'000, false},
    {"llmbench.v1.SharedPrefix.groups", 1, 1'000'000, false},
    {"llmbench.v1.Generation.max_tokens", 1, 1'000'000, false},
    {"llmbench.v1.Generation.temperature", 0, 100, false},
    {"llmbench.v1.ConcurrencyLoad.concurrency", 1, 1'000'000, false},
    {"llmbench.v1.RateLoad.rps", 0, kMaxRps, true},
    {"llmbench.v1.Ramp.from_rps", 0, kMaxRps, false},
    {"llmbench.v1.Ramp.to_rps", 0, kMaxRps, true},
    {"llmbench.v1.Ramp.seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.Burst.size", 1, 1'000'000, false},
    {"llmbench.v1.Burst.every_seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.SweepLoad.start_rps", 0, kMaxRps, true},
    {"llmbench.v1.SweepLoad.max_rps", 0, kMaxRps, true},
    {"llmbench.v1.SweepLoad.step_factor", 1, 100, true},
    {"llmbench.v1.SweepLoad.step_seconds", 0, 86'400, true},
    {"llmbench.v1.SweepLoad.bisect_iterations", 0, 30, false},
    {"llmbench.v1.TraceLoad.speedup", 0, 1e6, true},
    {"llmbench.v1.TraceLoad.start_seconds", 0, kMaxSeconds, false},
    {"llmbench.v1.TraceLoad.end_seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.TraceLoad.block_tokens", 1, 1'000'000, false},
    {"llmbench.v1.Load.requests", 1, kMaxRequests, false},
    {"llmbench.v1.Load.sessions", 1, kMaxRequests, false},
    {"llmbench.v1.MultiTurn.turns", 0, 1024, false},
    {"llmbench.v1.Load.duration_seconds", 0, kMaxSeconds, true},
    {"llmbench.v1.Load.warmup_requests", 0, 1e9, false},
    {"llmbench.v1.Load.warmup_seconds", 0, 86'400, false},
    {"llmbench.v1.Load.cooldown_seconds", 0, 86'400, false},
    {"llmbench.v1.Slo.ttft_ms", 0, 1e9, true},
    {"llmbench.v1.Slo.itl_ms", 0, 1e9, true},
    {"llmbench.v1.Slo.tpot_ms", 0, 1e9, true},
    {"llmbench.v1.Slo.e2e_ms", 0, 1e9, true},
    {"llmbench.v1.Thresholds.max_error_rate", 0, 1, false},
    {"llmbench.v1.Thresholds.max_lateness_p99_ms", 0, 1e9, true},
    {"llmbench.v1.Thresholds.min_slo_attainment", 0, 1, false},
    {"llmbench.v1.Thresholds.engine_down_seconds", 0, 86'400, false},
    {"llmbench.v1.Thresholds.max_dispatch_delay_p99_ms", 0, 1e9, true},
    {"llmbench.v1.Outputs.text_max_bytes", 1, 1 << 20, false},
};

const RangeRule* FindRule(const std::string& full_name) {
  for (const RangeRule& rule : kRangeRules) {
    if (full_name == rule.field) return &rule;
  }
  return nullptr;
}

// `got` is the value as text: integers exactly (a uint64 beyond 2^53 must not print as
// 1.84467e+19).
std::string RangeReason(const RangeRule& rule, double value, const std::string& got_text) {
  const std::string got = absl::StrCat(", got ", got_text);
  if (rule.min_exclusive) {
    if (!(value > rule.min)) return absl::StrCat("must be > ", FormatNumber(rule.min), got);
    return absl::StrCat("must be <= ", FormatNumber(rule.max), got);
  }
  return absl::StrCat("must be between ", FormatNumber(rule.min), " and ",
                      FormatNumber(rule.max), got);
}

std::string NumericText(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection* reflection = message.GetReflection();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(reflection->GetUInt32(message, field));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(reflection->GetUInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(reflection->GetInt32(message, field));
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(reflection->GetInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return FormatNumber(reflection->GetDouble(message, field));
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return FormatNumber(reflection->GetFloat(message, field));
    default:
      return "?";
  }
}

double NumericValue(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection* reflection = message.GetReflection();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return reflection->GetUInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return static_cast<double>(reflection->GetUInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return reflection->GetInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return static_cast<double>(reflection->GetInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return reflection->GetDouble(message, field);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return reflection->GetFloat(message, field);
    default:
      return 0;
  }
}

class Validator {
 public:
  explicit Validator(const ValidateOptions& options) : options_(options) {}

  absl::Status Fail(std::string_view path, std::string_view reason) const {
    if (options_.source != nullptr) {
      return absl::InvalidArgumentError(options_.source->Format(path, reason));
    }
    return absl::InvalidArgumentError(absl::StrCat(ShownPath(path), ": ", ToAbsl(reason)));
  }

  absl::Status Run(const Scenario& scenario) {
    LLMBENCH_RETURN_IF_ERROR(CheckEngines(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckRanges(scenario, ""));
    LLMBENCH_RETURN_IF_ERROR(CheckPrompts(scenario.prompts()));
    LLMBENCH_RETURN_IF_ERROR(CheckGeneration(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckLoad(scenario.load()));
    if (scenario.load().has_trace()) LLMBENCH_RETURN_IF_ERROR(CheckTrace(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckMultiTurn(scenario));
    LLMBENCH_RETURN_IF_ERROR(CheckRunLabels(scenario));
    return absl::OkStatus();
  }

  absl::Status CheckGeneration(const Scenario& scenario) {
    const llmbench::v1::Generation& generation = scenario.generation();
    if (generation.has_output_tokens()) {
      LLMBENCH_RETURN_IF_ERROR(CheckLengths(generation.output_tokens(), "generation.output_tokens"));
    }
    if (generation.output_tokens_from_dataset() && !scenario.prompts().has_dataset()) {
      return Fail("generation.output_tokens_from_dataset", "needs prompts.dataset");
    }
    if (generation.reply_text_bytes() != 0) {
      return Fail("generation.reply_text_bytes",
                  "set by the coordinator from outputs.text, not in a scenario");
    }
    for (int i = 0; i < scenario.telemetry().gpu_metrics_size(); ++i) {
      const std::string& url = scenario.telemetry().gpu_metrics(i);
      const bool http = absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
      const bool clean = std::none_of(url.begin(), url.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      });
      if (!http || !clean || url.size() <= 8) {
        return Fail(absl::StrCat("telemetry.gpu_metrics[", i, "]"),
                    absl::StrCat("must be an http:// or https:// URL without spaces, got ",
                                 Quote(url)));
      }
    }
    return absl::OkStatus();
  }

  // prompts.multi_turn and the load fields that only it uses (docs/scenario.md "Multi-turn
  // conversations").
  absl::Status CheckMultiTurn(const Scenario& scenario) {
    const llmbench::v1::Load& load = scenario.load();
    if (!scenario.prompts().has_multi_turn()) {
      if (load.has_sessions()) return Fail("load.sessions", "needs prompts.multi_turn");
      if (load.load_unit() != llmbench::v1::LOAD_UNIT_UNSPECIFIED) {
        return Fail("load.load_unit", "needs prompts.multi_turn");
      }
      return absl::OkStatus();
    }
    const llmbench::v1::MultiTurn& multi_turn = scenario.prompts().multi_turn();
    for (int i = 0; i < scenario.engines_size(); ++i) {
      const llmbench::v1::Engine& engine = scenario.engines(i);
      if (!IsChatRoute(engine)) {
        const llmbench::v1::Api api =
            engine.api() != llmbench::v1::API_UNSPECIFIED ? engine.api()
            : engine.kind() == llmbench::v1::ENGINE_KIND_OLLAMA ? llmbench::v1::API_OLLAMA_GENERATE
                                                                : llmbench::v1::API_TGI_GENERATE;
        return Fail(absl::StrCat("engines[", i, "].api"),
                    absl::StrCat("prompts.multi_turn needs the chat route (chat_completions",
                                 engine.kind() == llmbench::v1::ENGINE_KIND_OLLAMA
                                     ? " or ollama_chat"
                                     : "",
                                 "), got ",
                                 EnumYamlName(llmbench::v1::Api_descriptor()->FindValueByNumber(api))));
      }
    }
    if (multi_turn.has_user_tokens()) {
      if (!scenario.prompts().has_synthetic()) {
        return Fail("prompts.multi_turn.user_tokens", "synthetic prompts only");
      }
      LLMBENCH_RETURN_IF_ERROR(
          CheckLengths(multi_turn.user_tokens(), "prompts.multi_turn.user_tokens"));
    }
    if (multi_turn.has_think_time_ms()) {
      LLMBENCH_RETURN_IF_ERROR(CheckThinkTime(multi_turn.think_time_ms()));
    }
    if (load.has_requests()) {
      return Fail("load.requests",
                  "with prompts.multi_turn the run is bounded by load.sessions (whole "
                  "conversations) or duration_seconds");
    }
    if (load.has_sweep()) return Fail("load.sweep", "not with prompts.multi_turn");
    if (scenario.generation().output_tokens_from_dataset()) {
      return Fail("generation.output_tokens_from_dataset",
                  "not with prompts.multi_turn (a conversation has several replies)");
    }
    if (load.warmup_requests() >= (uint64_t{1} << 22)) {
      return Fail("load.warmup_requests",
                  absl::StrCat("with prompts.multi_turn these are warm-up sessions, at most ",
                               (uint64_t{1} << 22) - 1, ", got ", load.warmup_requests()));
    }
    return absl::OkStatus();
  }

  absl::Status CheckThinkTime(const llmbench::v1::TokenLengthDistribution& d) {
    constexpr uint32_t kMaxMs = 3'600'000;
    const std::string path = "prompts.multi_turn.think_time_ms";
    auto range = [&](const char* name, uint32_t value, uint32_t low) -> absl::Status {
      if (value < low || value > kMaxMs) {
        return Fail(absl::StrCat(path, ".", name),
                    absl::StrCat("must be between ", low, " and ", kMaxMs, " ms, got ", value));
      }
      return absl::OkStatus();
    };
    switch (d.kind()) {
      case llmbench::v1::TokenLengthDistribution::KIND_UNIFORM:
        LLMBENCH_RETURN_IF_ERROR(range("min", d.min(), 0));
        LLMBENCH_RETURN_IF_ERROR(range("max", d.max(), 0));
        if (d.max() < d.min()) {
          return Fail(path + ".max",
                      absl::StrCat("must be >= min (", d.min(), "), got ", d.max()));
        }
        break;
      case llmbench::v1::TokenLengthDistribution::KIND_NORMAL:
      case llmbench::v1::TokenLengthDistribution::KIND_LOGNORMAL:
        LLMBENCH_RETURN_IF_ERROR(range("mean", d.mean(), 1));
        if (!(d.stddev() >= 0) || d.stddev() > kMaxMs) {
          return Fail(path + ".stddev", absl::StrCat("must be between 0 and ", kMaxMs, ", got ",
                                                     FormatNumber(d.stddev())));
        }
        if (!(d.sigma() >= 0) || d.sigma() > 10) {
          return Fail(path + ".sigma",
                      absl::StrCat("must be between 0 and 10, got ", FormatNumber(d.sigma())));
        }
        LLMBENCH_RETURN_IF_ERROR(range("min", d.min(), 0));
        LLMBENCH_RETURN_IF_ERROR(range("max", d.max(), 0));
        if (d.max() != 0 && d.max() < d.min()) {
          return Fail(path + ".max",
                      absl::StrCat("must be >= min (", d.min(), "), got ", d.max()));
        }
        break;
      default:
        LLMBENCH_RETURN_IF_ERROR(range("mean", d.mean(), 0));
        break;
    }
    return absl::OkStatus();
  }

  // tags: keys are [A-Za-z0-9_.-]{1,64}, values at most 256 bytes without control characters;
  // label at most 256 bytes without control characters.
  absl::Status CheckRunLabels(const Scenario& scenario) {
    auto clean = [](const std::string& text) {
      return std::none_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
    };
    for (const auto& [key, value] : scenario.tags()) {
      const bool key_ok = !key.empty() && key.size() <= 64 &&
                          std::all_of(key.begin(), key.end(), [](char c) {
                            return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                                   c == '_' || c == '.' || c == '-';
                          });
      if (!key_ok) {
        return Fail(absl::StrCat("tags.", key),
                    absl::StrCat("a tag name is 1 to 64 of A-Z a-z 0-9 _ . -, got ", Quote(key)));
      }
      if (value.size() > 256 || !clean(value)) {
        return Fail(absl::StrCat("tags.", key),
                    "a tag value is at most 256 bytes without control characters");
      }
    }
    if (scenario.label().size() > 256 || !clean(scenario.label())) {
      return Fail("label", "at most 256 bytes without control characters");
    }
    return absl::OkStatus();
  }

 private:
  absl::Status CheckEngines(const Scenario& scenario) {
    if (scenario.engines().empty()) return Fail("engines", "required: at least one engine");
    absl::flat_hash_map<std::string, int> names;
    for (int i = 0; i < scenario.engines_size(); ++i) {
      const llmbench::v1::Engine& engine = scenario.engines(i);
      const std::string path = absl::StrCat("engines[", i, "]");
      if (engine.kind() == llmbench::v1::ENGINE_KIND_UNSPECIFIED) {
        return Fail(path + ".kind", absl::StrCat("required (one of ",
                                                 EnumChoices(llmbench::v1::EngineKind_descriptor()),
                                                 ")"));
      }
      if (engine.name().empty()) return Fail(path + ".name", "required");
      if (auto [it, inserted] = names.emplace(engine.name(), i); !inserted) {
        return Fail(path + ".name", absl::StrCat("duplicate engine name ", Quote(engine.name()),
                                                 " (also engines[", it->second,
                                                 "]); give each engine a unique name"));
      }
      if (engine.base_url().empty()) return Fail(path + ".base_url", "required");
      std::string_view url = engine.base_url();
      std::string_view rest;
      if (absl::StartsWith(ToAbsl(url), "http://")) {
        rest = url.substr(7);
      } else if (absl::StartsWith(ToAbsl(url), "https://")) {
        rest = url.substr(8);
      } else {
        return Fail(path + ".base_url",
                    absl::StrCat("must start with http:// or https://, got ", Quote(url)));
      }
      if (rest.empty() || rest[0] == '/') {
        return Fail(path + ".base_url", absl::StrCat("has no host: ", Quote(url)));
      }
      for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
          return Fail(path + ".base_url",
                      absl::StrCat("must not contain spaces or control characters: ", Quote(url)));
        }
      }
      if (engine.model().empty() && engine.kind() != llmbench::v1::ENGINE_KIND_TGI) {
        return Fail(path + ".model", "required");
      }
      LLMBENCH_RETURN_IF_ERROR(CheckApi(engine, path));
      if (!engine.api_key_env().empty()) {
        const std::string& env = engine.api_key_env();
        bool valid = !absl::ascii_isdigit(static_cast<unsigned char>(env[0]));
        for (char c : env) {
          if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') valid = false;
        }
        if (!valid) {
          return Fail(path + ".api_key_env",
                      absl::StrCat("must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), "
                                   "got ",
                                   Quote(env)));
        }
      }
      for (const auto& [header, value] : engine.headers()) {
        const std::string header_path = absl::StrCat(path, ".headers.", header);
        const bool token = !header.empty() && std::all_of(header.begin(), header.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
        });
        if (!token) {
          return Fail(header_path, absl::StrCat("not a valid HTTP header name: ", Quote(header)));
        }
        if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
          return Fail(header_path, "header values must not contain line breaks");
        }
      }
      const llmbench::v1::Timeouts& timeouts = engine.timeouts();
      if (timeouts.has_first_byte_ms() && timeouts.has_total_ms() &&
          timeouts.first_byte_ms() > timeouts.total_ms()) {
        return Fail(path + ".timeouts.first_byte_ms",
                    absl::StrCat("must be <= total_ms (", timeouts.total_ms(), "), got ",
                                 timeouts.first_byte_ms()));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckApi(const llmbench::v1::Engine& engine, const std::string& path) {
    using llmbench::v1::Api;
    std::vector<Api> allowed;
    switch (engine.kind()) {
      case llmbench::v1::ENGINE_KIND_OLLAMA:
        allowed = {llmbench::v1::API_OLLAMA_GENERATE, llmbench::v1::API_OLLAMA_CHAT,
                   llmbench::v1::API_COMPLETIONS, llmbench::v1::API_CHAT_COMPLETIONS};
        break;
      case llmbench::v1::ENGINE_KIND_TGI:
        allowed = {llmbench::v1::API_TGI_GENERATE, llmbench::v1::API_COMPLETIONS,
                   llmbench::v1::API_CHAT_COMPLETIONS};
        break;
      default:
        allowed = {llmbench::v1::API_COMPLETIONS, llmbench::v1::API_CHAT_COMPLETIONS};
        break;
    }
    if (engine.api() == llmbench::v1::API_UNSPECIFIED ||
        std::find(allowed.begin(), allowed.end(), engine.api()) != allowed.end()) {
      return absl::OkStatus();
    }
    std::vector<std::string> names;
    for (Api api : allowed) {
      names.push_back(EnumYamlName(llmbench::v1::Api_descriptor()->FindValueByNumber(api)));
    }
    return Fail(path + ".api",
                absl::StrCat(
                    EnumYamlName(llmbench::v1::Api_descriptor()->FindValueByNumber(engine.api())),
                    " is not served by a ",
                    EnumYamlName(llmbench::v1::EngineKind_descriptor()->FindValueByNumber(
                        engine.kind())),
                    " engine (expected one of ", absl::StrJoin(names, ", "), ")"));
  }

  // Applies kRangeRules to every present field, recursively.
  absl::Status CheckRanges(const pb::Message& message, const std::string& path) {
    const pb::Descriptor* descriptor = message.GetDescriptor();
    const pb::Reflection* reflection = message.GetReflection();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const pb::FieldDescriptor* field = descriptor->field(i);
      const std::string child = ChildPath(path, descriptor, field);
      if (field->is_map()) continue;
      if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (field->is_repeated()) {
          for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
            LLMBENCH_RETURN_IF_ERROR(CheckRanges(reflection->GetRepeatedMessage(message, field, k),
                                                 absl::StrCat(child, "[", k, "]")));
          }
        } else if (reflection->HasField(message, field)) {
          LLMBENCH_RETURN_IF_ERROR(CheckRanges(reflection->GetMessage(message, field), child));
        }
        continue;
      }
      if (field->is_repeated()) continue;
      if (field->has_presence() && !reflection->HasField(message, field)) continue;
      const RangeRule* rule = FindRule(field->full_name());
      if (rule == nullptr) continue;
      const double value = NumericValue(message, field);
      const bool low_ok = rule->min_exclusive ? value > rule->min : value >= rule->min;
      if (!low_ok || !(value <= rule->max)) {
        return Fail(child, RangeReason(*rule, value, NumericText(message, field)));
      }
    }
    return absl::OkStatus();
  }

  // A token-length distribution at `path` (prompts.synthetic.input_tokens,
  // generation.output_tokens).
  absl::Status CheckLengths(const llmbench::v1::TokenLengthDistribution& lengths,
                            const std::string& path) {
      constexpr uint32_t kMaxTokens = 1'000'000;
      auto range = [&](const char* name, uint32_t value, uint32_t low) -> absl::Status {
        if (value < low || value > kMaxTokens) {
          return Fail(absl::StrCat(path, ".", name),
                      absl::StrCat("must be between ", low, " and ", kMaxTokens, ", got ", value));
        }
        return absl::OkStatus();
      };
      switch (lengths.kind()) {
        case llmbench::v1::TokenLengthDistribution::KIND_UNIFORM:
          LLMBENCH_RETURN_IF_ERROR(range("min", lengths.min(), 1));
          LLMBENCH_RETURN_IF_ERROR(range("max", lengths.max(), 1));
          if (lengths.max() < lengths.min()) {
            return Fail(path + ".max", absl::StrCat("must be >= min (", lengths.min(), "), got ",
                                                    lengths.max()));
          }
          break;
        case llmbench::v1::TokenLengthDistribution::KIND_NORMAL:
        case llmbench::v1::TokenLengthDistribution::KIND_LOGNORMAL:
          LLMBENCH_RETURN_IF_ERROR(range("mean", lengths.mean(), 1));
          if (lengths.kind() == llmbench::v1::TokenLengthDistribution::KIND_NORMAL &&
              (!(lengths.stddev() >= 0) || lengths.stddev() > kMaxTokens)) {
            return Fail(path + ".stddev", absl::StrCat("must be between 0 and ", kMaxTokens,
                                                       ", got ", FormatNumber(lengths.stddev())));
          }
          if (lengths.kind() == llmbench::v1::TokenLengthDistribution::KIND_LOGNORMAL &&
              (!(lengths.sigma() >= 0) || lengths.sigma() > 10)) {
            return Fail(path + ".sigma", absl::StrCat("must be between 0 and 10, got ",
                                                      FormatNumber(lengths.sigma())));
          }
          LLMBENCH_RETURN_IF_ERROR(range("min", lengths.min(), 0));
          LLMBENCH_RETURN_IF_ERROR(range("max", lengths.max(), 0));
          if (lengths.max() != 0 && lengths.max() < lengths.min()) {
            return Fail(path + ".max", absl::StrCat("must be >= min (", lengths.min(), "), got ",
                                                    lengths.max()));
          }
          break;
        default:
          LLMBENCH_RETURN_IF_ERROR(range("mean", lengths.mean(), 1));
          break;
      }
      return absl::OkStatus();
  }

  absl::Status CheckPrompts(const llmbench::v1::Prompts& prompts) {
    if (prompts.has_synthetic()) {
      LLMBENCH_RETURN_IF_ERROR(
          CheckLengths(prompts.synthetic().input_tokens(), "prompts.synthetic.input_tokens"));
    }
    if (!prompts.tokenizer().empty() && options_.check_files) {
      const std::string resolved = ResolvePath(options_.base_dir, prompts.tokenizer());
      absl::StatusOr<int> fd = OpenDatasetFile(resolved);
      if (!fd.ok()) {
        return Fail("prompts.tokenizer", absl::StrCat("cannot read ", Quote(prompts.tokenizer()),
                                                      ": ", fd.status().message()));
      }
      ::close(*fd);
    }
    if (prompts.length_method() == llmbench::v1::PROMPT_LENGTH_METHOD_TOKENIZER &&
        prompts.tokenizer().empty()) {
      return Fail("prompts.length_method", "tokenizer needs prompts.tokenizer (a tokenizer.json)");
    }
    if (prompts.has_dataset()) {
      const std::string& file = prompts.dataset().path();
      if (file.empty()) return Fail("prompts.dataset.path", "required");
      if (options_.check_files) {
        const std::string resolved = ResolvePath(options_.base_dir, file);
        // Regular files only, size-capped, opened without blocking on a FIFO.
        absl::StatusOr<int> fd = OpenDatasetFile(resolved);
        if (!fd.ok()) {
          return Fail("prompts.dataset.path",
                      absl::StrCat("cannot read ", Quote(file), ": ", fd.status().message()));
        }
        ::close(*fd);
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckLoad(const llmbench::v1::Load& load) {
    if (load.has_sweep() && load.sweep().max_rps() < load.sweep().start_rps()) {
      return Fail("load.sweep.max_rps",
                  absl::StrCat("must be >= start_rps (", FormatNumber(load.sweep().start_rps()),
                               "), got ", FormatNumber(load.sweep().max_rps())));
    }
    if (!load.has_sweep() && !load.has_trace() && !load.has_requests() && !load.has_sessions() &&
        !load.has_duration_seconds()) {
      return Fail("load", "give requests, duration_seconds or both");
    }
    return absl::OkStatus();
  }

  // Trace replay (coordinator/trace_plan.h reads the file itself).
  absl::Status CheckTrace(const Scenario& scenario) {
    const llmbench::v1::Load& load = scenario.load();
    const llmbench::v1::TraceLoad& trace = load.trace();
    if (trace.file().empty()) return Fail("load.trace.file", "required");
    if (options_.check_files) {
      absl::StatusOr<int> fd = OpenDatasetFile(ResolvePath(options_.base_dir, trace.file()));
      if (!fd.ok()) {
        return Fail("load.trace.file",
                    absl::StrCat("cannot read ", Quote(trace.file()), ": ", fd.status().message()));
      }
      ::close(*fd);
    }
    if (trace.has_end_seconds() && trace.end_seconds() <= trace.start_seconds()) {
      return Fail("load.trace.end_seconds",
                  absl::StrCat("must be > start_seconds (", FormatNumber(trace.start_seconds()),
                               "), got ", FormatNumber(trace.end_seconds())));
    }
    if (trace.has_block_tokens() && trace.format() == llmbench::v1::TRACE_FORMAT_PLAIN) {
      return Fail("load.trace.block_tokens", "only for mooncake traces (hash_ids)");
    }
    if (trace.loop() && !load.has_requests() && !load.has_duration_seconds()) {
      return Fail("load.trace.loop", "needs load.duration_seconds or load.requests to end it");
    }
    if (load.warmup_requests() > 0) {
      return Fail("load.warmup_requests", "a trace replays as recorded: no warm-up");
    }
    if (load.warmup_seconds() > 0) {
      return Fail("load.warmup_seconds", "a trace replays as recorded: no warm-up");
    }
    if (scenario.prompts().has_dataset()) {
      return Fail("prompts.dataset", "load.trace gives the prompts");
    }
    if (scenario.prompts().has_multi_turn()) {
      return Fail("prompts.multi_turn", "load.trace replays single requests, not conversations");
    }
    if (scenario.generation().has_output_tokens()) {
      return Fail("generation.output_tokens", "load.trace gives each request's max_tokens");
    }
    return absl::OkStatus();
  }

  const ValidateOptions& options_;
};

}  // namespace

absl::Status ValidateScenario(const Scenario& scenario, const ValidateOptions& options) {
  return Validator(options).Run(scenario);
}

}  // namespace llmbench::coordinator
