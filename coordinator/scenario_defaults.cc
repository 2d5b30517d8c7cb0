#include "coordinator/scenario_defaults.h"

#include <algorithm>
#include <cstdint>

#include "coordinator/multi_turn.h"
#include "coordinator/scenario_fields.h"

namespace llmbench::coordinator {

using llmbench::v1::Scenario;

void ApplyPromptsDefaults(llmbench::v1::Prompts* prompts) {
  if (prompts->source_case() == llmbench::v1::Prompts::SOURCE_NOT_SET) {
    prompts->mutable_synthetic();
  }
  if (prompts->has_synthetic()) {
    auto* synthetic = prompts->mutable_synthetic();
    auto* lengths = synthetic->mutable_input_tokens();
    if (lengths->kind() == llmbench::v1::TokenLengthDistribution::KIND_UNSPECIFIED) {
      lengths->set_kind(llmbench::v1::TokenLengthDistribution::KIND_FIXED);
    }
    if (lengths->kind() == llmbench::v1::TokenLengthDistribution::KIND_FIXED &&
        lengths->mean() == 0) {
      lengths->set_mean(128);
    }
    if (synthetic->count() == 0) synthetic->set_count(1000);
  }
  if (prompts->has_multi_turn() && prompts->has_synthetic() &&
      prompts->multi_turn().turns() == 0) {
    prompts->mutable_multi_turn()->set_turns(kDefaultTurns);
  }
  if (prompts->has_shared_prefix() && prompts->shared_prefix().groups() == 0) {
    prompts->mutable_shared_prefix()->set_groups(1);
  }
}

void ApplyScenarioDefaults(Scenario* scenario) {
  for (llmbench::v1::Engine& engine : *scenario->mutable_engines()) {
    if (engine.name().empty() && engine.kind() != llmbench::v1::ENGINE_KIND_UNSPECIFIED) {
      engine.set_name(
          EnumYamlName(llmbench::v1::EngineKind_descriptor()->FindValueByNumber(engine.kind())));
    }
    if (engine.api() == llmbench::v1::API_UNSPECIFIED) {
      switch (engine.kind()) {
        case llmbench::v1::ENGINE_KIND_OLLAMA:
          engine.set_api(llmbench::v1::API_OLLAMA_GENERATE);
          break;
        case llmbench::v1::ENGINE_KIND_TGI:
          engine.set_api(llmbench::v1::API_TGI_GENERATE);
          break;
        case llmbench::v1::ENGINE_KIND_VLLM:
        case llmbench::v1::ENGINE_KIND_OPENAI:
          engine.set_api(llmbench::v1::API_CHAT_COMPLETIONS);
          break;
        default:
          break;
      }
    }
    auto* timeouts = engine.mutable_timeouts();
    if (!timeouts->has_connect_ms()) timeouts->set_connect_ms(5000);
    if (!timeouts->has_total_ms()) timeouts->set_total_ms(600000);
    // The default first-byte timeout never exceeds a total the user chose (total_ms: 3000 alone
    // is not a contradiction to report).
    if (!timeouts->has_first_byte_ms()) {
      timeouts->set_first_byte_ms(std::min<uint32_t>(60000, timeouts->total_ms()));
    }
    if (!timeouts->has_idle_ms()) timeouts->set_idle_ms(60000);
  }
  ApplyPromptsDefaults(scenario->mutable_prompts());
  auto* generation = scenario->mutable_generation();
  if (!generation->has_max_tokens()) generation->set_max_tokens(128);
  if (!generation->has_temperature()) generation->set_temperature(0);
  if (!generation->has_stream()) generation->set_stream(true);
  auto* load = scenario->mutable_load();
  if (load->profile_case() == llmbench::v1::Load::PROFILE_NOT_SET) {
    load->mutable_concurrency()->set_concurrency(1);
  }
  if (load->has_rate() && load->rate().arrival() == llmbench::v1::ARRIVAL_UNSPECIFIED) {
    load->mutable_rate()->set_arrival(llmbench::v1::ARRIVAL_CONSTANT);
  }
  if (load->has_sweep()) {
    auto* sweep = load->mutable_sweep();
    if (sweep->step_factor() == 0) sweep->set_step_factor(2);
    if (sweep->step_seconds() == 0) sweep->set_step_seconds(30);
    if (sweep->bisect_iterations() == 0) sweep->set_bisect_iterations(4);
  } else if (load->has_trace()) {
    auto* trace = load->mutable_trace();
    if (trace->format() == llmbench::v1::TRACE_FORMAT_UNSPECIFIED) {
      trace->set_format(llmbench::v1::TRACE_FORMAT_AUTO);
    }
    if (!trace->has_speedup()) trace->set_speedup(1);
  } else if (scenario->prompts().has_multi_turn()) {
    if (!load->has_sessions() && !load->has_duration_seconds() && !load->has_requests()) {
      load->set_sessions(kDefaultSessions);
    }
  } else if (!load->has_requests() && !load->has_duration_seconds()) {
    load->set_requests(100);
  }
  auto* thresholds = scenario->mutable_thresholds();
  if (!thresholds->has_max_lateness_p99_ms()) thresholds->set_max_lateness_p99_ms(10);
  if (!thresholds->has_max_error_rate()) thresholds->set_max_error_rate(kDefaultMaxErrorRate);
  if (!thresholds->has_engine_down_seconds()) {
    thresholds->set_engine_down_seconds(kDefaultEngineDownSeconds);
  }
  auto* outputs = scenario->mutable_outputs();
  if (!outputs->has_csv()) outputs->set_csv(true);
  if (!outputs->has_html()) outputs->set_html(true);
  if (!scenario->has_seed()) scenario->set_seed(42);
}

}  // namespace llmbench::coordinator
