#include "coordinator/multi_turn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "coordinator/prompts.h"
#include "coordinator/scenario_defaults.h"
#include "proto/wire/session_ids.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

std::string LoadUnitName(v1::LoadUnit unit) {
  return unit == v1::LOAD_UNIT_REQUESTS ? "requests" : "sessions";
}

uint32_t DrawThinkMs(const v1::TokenLengthDistribution& d, std::mt19937_64& rng) {
  if (d.kind() == v1::TokenLengthDistribution::KIND_FIXED ||
      d.kind() == v1::TokenLengthDistribution::KIND_UNSPECIFIED) {
    return std::min(d.mean(), kMaxThinkMs);
  }
  if (d.kind() == v1::TokenLengthDistribution::KIND_UNIFORM) {
    const uint32_t low = std::min(d.min(), kMaxThinkMs);
    const uint32_t high = std::max(low, std::min(d.max(), kMaxThinkMs));
    return low + static_cast<uint32_t>(rng() % (uint64_t{high} - low + 1));
  }
  // Normal and lognormal: DrawLength's draw, clamped to [max(1, min), max].
  return std::min(DrawLength(d, rng), kMaxThinkMs);
}

void AddConversationTurns(const v1::Prompts& prompts, uint64_t seed,
                          std::vector<std::vector<std::string>> later_turns,
                          std::vector<v1::Prompt>* out) {
  const v1::MultiTurn& multi_turn = prompts.multi_turn();
  // Streams of their own: adding turns or think times changes neither the first turns nor the
  // output lengths.
  std::mt19937_64 turn_rng(SplitMix64(seed ^ 0x7475726e73000000ULL));   // "turns"
  std::mt19937_64 think_rng(SplitMix64(seed ^ 0x7468696e6b000000ULL));  // "think"
  v1::TokenLengthDistribution user_tokens =
      multi_turn.has_user_tokens() ? multi_turn.user_tokens() : prompts.synthetic().input_tokens();
  if (user_tokens.kind() == v1::TokenLengthDistribution::KIND_UNSPECIFIED) {
    user_tokens.set_kind(v1::TokenLengthDistribution::KIND_FIXED);
    if (user_tokens.mean() == 0) user_tokens.set_mean(128);
  }
  const uint32_t max_turns =
      std::min<uint32_t>(multi_turn.turns() == 0 ? wire::kMaxTurnsPerSession : multi_turn.turns(),
                         wire::kMaxTurnsPerSession);
  for (size_t i = 0; i < out->size(); ++i) {
    v1::Prompt& prompt = (*out)[i];
    if (prompts.has_dataset()) {
      if (i < later_turns.size()) {
        std::vector<std::string>& later = later_turns[i];
        if (later.size() + 1 > max_turns) later.resize(max_turns - 1);
        for (std::string& text : later) {
          prompt.add_next_turn_tokens(CountWords(text));
          prompt.add_next_turns(std::move(text));
        }
      }
    } else {
      const uint32_t turns = multi_turn.turns() == 0 ? kDefaultTurns : max_turns;
      for (uint32_t t = 1; t < turns; ++t) {
        std::string words;
        AppendSyntheticWords(turn_rng, DrawLength(user_tokens, turn_rng), &words);
        prompt.add_next_turn_tokens(CountWords(words));
        prompt.add_next_turns(std::move(words));
      }
    }
    if (multi_turn.has_think_time_ms()) {
      for (int t = 0; t < prompt.next_turns_size(); ++t) {
        prompt.add_think_ms(DrawThinkMs(multi_turn.think_time_ms(), think_rng));
      }
    }
  }
}

namespace {

absl::Status BadFlagValue(const char* flag, absl::string_view why, const std::string& text) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why, ", got \"", text, "\""));
}

// Milliseconds 0 .. kMaxThinkMs inside --think-time.
absl::StatusOr<uint32_t> Ms(absl::string_view part, const std::string& text) {
  uint32_t n = 0;
  if (!absl::SimpleAtoi(part, &n) || n > kMaxThinkMs) {
    return BadFlagValue("--think-time",
                        absl::StrCat("times are whole milliseconds from 0 to ", kMaxThinkMs), text);
  }
  return n;
}

}  // namespace

absl::StatusOr<v1::TokenLengthDistribution> ParseThinkTime(const std::string& text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  v1::TokenLengthDistribution d;
  if (lower.find(':') == std::string::npos) {
    // A duration: 500ms, 2s, 1.5s, or plain milliseconds.
    absl::string_view number = lower;
    double scale = 1;
    if (absl::ConsumeSuffix(&number, "ms")) {
      scale = 1;
    } else if (absl::ConsumeSuffix(&number, "s")) {
      scale = 1000;
    }
    double value = 0;
    if (number.empty() || !absl::SimpleAtod(number, &value) || !std::isfinite(value) || value < 0 ||
        value * scale > kMaxThinkMs) {
      return BadFlagValue("--think-time",
                          "expected a time such as 500ms or 2s (at most 1 hour), or "
                          "fixed:MS, uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX], "
                          "lognormal:MEAN:SIGMA[:MIN:MAX] in ms",
                          text);
    }
    d.set_kind(v1::TokenLengthDistribution::KIND_FIXED);
    d.set_mean(static_cast<uint32_t>(std::llround(value * scale)));
    return d;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(lower, ':');
  const absl::string_view kind = parts[0];
  auto arity = [&](size_t min, size_t max) -> absl::Status {
    if (parts.size() < min || parts.size() > max) {
      return BadFlagValue("--think-time",
                          "expected fixed:MS, uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX] or "
                          "lognormal:MEAN:SIGMA[:MIN:MAX]",
                          text);
    }
    return absl::OkStatus();
  };
  if (kind == "fixed") {
    LLMBENCH_RETURN_IF_ERROR(arity(2, 2));
    d.set_kind(v1::TokenLengthDistribution::KIND_FIXED);
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t ms, Ms(parts[1], text));
    d.set_mean(ms);
  } else if (kind == "uniform") {
    LLMBENCH_RETURN_IF_ERROR(arity(3, 3));
    d.set_kind(v1::TokenLengthDistribution::KIND_UNIFORM);
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t low, Ms(parts[1], text));
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t high, Ms(parts[2], text));
    if (high < low) return BadFlagValue("--think-time", "uniform needs MIN <= MAX", text);
    d.set_min(low);
    d.set_max(high);
  } else if (kind == "normal" || kind == "lognormal") {
    LLMBENCH_RETURN_IF_ERROR(arity(3, 5));
    const bool normal = kind == "normal";
    d.set_kind(normal ? v1::TokenLengthDistribution::KIND_NORMAL
                      : v1::TokenLengthDistribution::KIND_LOGNORMAL);
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t mean, Ms(parts[1], text));
    if (mean == 0) return BadFlagValue("--think-time", "MEAN must be at least 1 ms", text);
    d.set_mean(mean);
    double spread = 0;
    if (!absl::SimpleAtod(parts[2], &spread) || !std::isfinite(spread) || spread < 0 ||
        (!normal && spread > 10)) {
      return BadFlagValue("--think-time",
                          normal ? "STDDEV must be a number >= 0" : "SIGMA must be 0 to 10", text);
    }
    if (normal) {
      d.set_stddev(spread);
    } else {
      d.set_sigma(spread);
    }
    if (parts.size() >= 4) {
      LLMBENCH_ASSIGN_OR_RETURN(uint32_t low, Ms(parts[3], text));
      d.set_min(low);
    }
    if (parts.size() == 5) {
      LLMBENCH_ASSIGN_OR_RETURN(uint32_t high, Ms(parts[4], text));
      if (high < d.min()) return BadFlagValue("--think-time", "needs MIN <= MAX", text);
      d.set_max(high);
    }
  } else {
    return BadFlagValue("--think-time",
                        "expected a time such as 500ms, or fixed:MS, uniform:MIN:MAX, "
                        "normal:MEAN:STDDEV[:MIN:MAX], lognormal:MEAN:SIGMA[:MIN:MAX]",
                        text);
  }
  return d;
}

absl::StatusOr<v1::LoadUnit> ParseLoadUnit(const std::string& text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (lower == "sessions") return v1::LOAD_UNIT_SESSIONS;
  if (lower == "requests") return v1::LOAD_UNIT_REQUESTS;
  return BadFlagValue("--load-unit", "expected sessions or requests", text);
}

absl::Status MultiTurnFlags::Apply(v1::Scenario* scenario) const {
  if (!given()) return absl::OkStatus();
  if (turns.empty()) {
    const char* flag = !think_time.empty()  ? "--think-time"
                       : !load_unit.empty() ? "--load-unit"
                                            : "--sessions";
    const std::string& value = !think_time.empty()  ? think_time
                               : !load_unit.empty() ? load_unit
                                                    : sessions;
    return BadFlagValue(flag, "needs --turns (multi-turn sessions)", value);
  }
  const bool dataset = scenario->prompts().has_dataset();
  uint32_t n = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(turns), &n) || (n == 0 && !dataset) ||
      n > wire::kMaxTurnsPerSession) {
    return BadFlagValue("--turns",
                        absl::StrCat("must be a whole number from 1 to ", wire::kMaxTurnsPerSession,
                                     " (0, all turns, only with --dataset)"),
                        turns);
  }
  for (const v1::Engine& engine : scenario->engines()) {
    if (!IsChatRoute(engine)) {
      return BadFlagValue("--turns",
                          absl::StrCat("multi-turn sessions need the chat route, engine ",
                                       engine.name(), " is on a completion route (give --api "
                                       "chat; with compare, NAME=KIND,URL,MODEL,chat)"),
                          turns);
    }
  }
  v1::MultiTurn* multi_turn = scenario->mutable_prompts()->mutable_multi_turn();
  multi_turn->set_turns(n);
  if (!think_time.empty()) {
    LLMBENCH_ASSIGN_OR_RETURN(*multi_turn->mutable_think_time_ms(), ParseThinkTime(think_time));
  }
  v1::Load* load = scenario->mutable_load();
  if (!load_unit.empty()) {
    LLMBENCH_ASSIGN_OR_RETURN(v1::LoadUnit unit, ParseLoadUnit(load_unit));
    load->set_load_unit(unit);
  }
  if (!sessions.empty()) {
    uint64_t count = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(sessions), &count) || count < 1 ||
        count > kMaxRequests) {
      return BadFlagValue(
          "--sessions", absl::StrCat("must be a whole number from 1 to ", kMaxRequests), sessions);
    }
    load->set_sessions(count);
    load->clear_requests();
  } else if (load->has_requests()) {
    const uint64_t per_session = n == 0 ? 1 : n;
    load->set_sessions(std::max<uint64_t>(1, (load->requests() + per_session - 1) / per_session));
    load->clear_requests();
  }
  return absl::OkStatus();
}

std::string FormatTurnTable(const v1::EngineResult& engine) {
  if (!engine.has_multi_turn()) return "";
  const v1::MultiTurnReport& r = engine.multi_turn();
  std::string out = absl::StrFormat(
      "  sessions: %d started, %d completed, %d failed, %d interrupted (load unit %s)\n",
      r.sessions_started(), r.sessions_completed(), r.sessions_failed(), r.sessions_interrupted(),
      r.load_unit().empty() ? "sessions" : r.load_unit());
  absl::StrAppend(&out,
                  "  turn  requests      ok  input tok p50  TTFT p50 ms  TTFT p99 ms  "
                  "E2E p50 ms\n");
  auto cell = [](bool present, double value, const char* format) {
    return present ? absl::StrFormat(format, value) : std::string("-");
  };
  for (const v1::TurnAggregates& t : r.turns()) {
    absl::StrAppend(
        &out,
        absl::StrFormat("  %4d  %8d  %6d  %13s  %11s  %11s  %10s\n", t.turn_index(), t.requests(),
                        t.successes(), cell(t.has_input_tokens(), t.input_tokens().p50(), "%.0f"),
                        cell(t.has_ttft_ms(), t.ttft_ms().p50(), "%.1f"),
                        cell(t.has_ttft_ms(), t.ttft_ms().p99(), "%.1f"),
                        cell(t.has_e2e_ms(), t.e2e_ms().p50(), "%.1f")));
  }
  return out;
}

}  // namespace llmbench::coordinator
