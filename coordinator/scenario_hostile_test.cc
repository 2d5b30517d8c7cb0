// Hostile scenario files: huge inputs, deep nesting, invalid UTF-8, negative or absurd numbers,
// alias tricks. Each one must fail with an exact, positioned message (or, where stated, load)
// and never crash or hang. Complements the bad-input table of scenario_loader_test.cc.
#include <string>
#include <vector>

#include "coordinator/scenario_loader.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

using llmbench::v1::Scenario;

// A valid engine block (lines 1-4) that the cases build on.
constexpr char kEngine[] =
    "engines:\n"
    "  - kind: vllm\n"
    "    base_url: http://127.0.0.1:8000\n"
    "    model: m\n";

absl::StatusOr<Scenario> Parse(const std::string& yaml) {
  return ParseScenarioYaml(yaml, "hostile.yaml", "/nonexistent");
}

struct HostileCase {
  std::string name;
  std::string yaml;
  std::string message;
};

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::vector<HostileCase> HostileCases() {
  const std::string e = kEngine;
  return {
      // ---- size ----
      {"OneByteOverLimit", e + std::string(kMaxScenarioBytes + 1 - e.size(), '#'),
       "hostile.yaml:1:1: scenario: file is too large (16777217 bytes; the limit is 16777216)"},
      {"HugeComment", e + "#" + std::string(kMaxScenarioBytes, 'x'),
       "hostile.yaml:1:1: scenario: file is too large (16777290 bytes; the limit is 16777216)"},
      // ---- nesting ----
      {"DeepFlowSequences", "engines: " + Repeat("[", 100000),
       "hostile.yaml:1:1: scenario: YAML nesting is too deep (more than 500 levels)"},
      {"DeepFlowMappings", "engines: " + Repeat("{a: ", 100000),
       "hostile.yaml:1:2001: scenario: YAML nesting is too deep (more than 500 levels)"},
      {"DeepBlockMappings",
       [] {
         std::string s;
         for (int i = 0; i < 3000; ++i) s += std::string(static_cast<size_t>(i), ' ') + "a:\n";
         return s;
       }(),
       "hostile.yaml:499:501: scenario: YAML nesting is too deep (more than 500 levels)"},
      {"NestedListsWhereEngineExpected", "engines: [[[[[[]]]]]]\n",
       "hostile.yaml:1:11: engines[0]: expected a mapping, got a list"},
      // ---- UTF-8 ----
      {"InvalidUtf8DeepInFile", e + "    headers: {X-A: \"ok\xe2\x82\"}\n",
       "hostile.yaml:5:23: scenario: invalid UTF-8 (byte 0xe2)"},
      {"TruncatedSequenceAtEof", e + "name: \xf0\x9f\x98",
       "hostile.yaml:5:7: scenario: invalid UTF-8 (byte 0xf0)"},
      {"EncodedSurrogate", e + "name: \xed\xa0\x80\n",
       "hostile.yaml:5:7: scenario: invalid UTF-8 (byte 0xed)"},
      {"AboveU10FFFF", e + "name: \xf4\x90\x80\x80\n",
       "hostile.yaml:5:7: scenario: invalid UTF-8 (byte 0xf4)"},
      {"InvalidUtf8InKey", e + "na\xffme: x\n",
       "hostile.yaml:5:3: scenario: invalid UTF-8 (byte 0xff)"},
      {"Latin1Text", "name: caf\xe9\n" + e,
       "hostile.yaml:1:10: scenario: invalid UTF-8 (byte 0xe9)"},
      // ---- numbers ----
      {"RpsOverflowsDouble", e + "load:\n  rate:\n    rps: 1e309\n",
       "hostile.yaml:7:5: load.rate.rps: must be a finite number, got \"1e309\""},
      {"RpsInfinity", e + "load:\n  rate:\n    rps: .inf\n",
       "hostile.yaml:7:5: load.rate.rps: expected a number, got \".inf\""},
      {"RpsNegativeZero", e + "load:\n  rate:\n    rps: -0.0\n",
       "hostile.yaml:7:5: load.rate.rps: must be > 0, got 0"},
      {"RpsAbsurd", e + "load:\n  rate:\n    rps: 1e300\n",
       "hostile.yaml:7:5: load.rate.rps: must be <= 10000000, got 1e+300"},
      {"RequestsUint64Overflow", e + "load:\n  requests: 99999999999999999999999\n",
       "hostile.yaml:6:3: load.requests: out of range (at most 18446744073709551615), got "
       "99999999999999999999999"},
      {"RequestsHuge", e + "load:\n  requests: 18446744073709551615\n",
       "hostile.yaml:6:3: load.requests: must be between 1 and 10000000, got 18446744073709551615"},
      {"ConcurrencyNegative", e + "load:\n  concurrency: -1\n",
       "hostile.yaml:6:16: load.concurrency: expected an unsigned integer, got \"-1\""},
      {"MaxTokensNegative", e + "generation:\n  max_tokens: -1\n",
       "hostile.yaml:6:3: generation.max_tokens: expected an unsigned integer, got \"-1\""},
      {"MaxTokensFraction", e + "generation:\n  max_tokens: 1.5\n",
       "hostile.yaml:6:3: generation.max_tokens: expected an unsigned integer, got \"1.5\""},
      {"MaxTokensHex", e + "generation:\n  max_tokens: 0x10\n",
       "hostile.yaml:6:3: generation.max_tokens: expected an unsigned integer, got \"0x10\""},
      {"TemperatureAbsurd", e + "generation:\n  temperature: 1e300\n",
       "hostile.yaml:6:3: generation.temperature: must be between 0 and 100, got 1e+300"},
      {"TemperatureNegative", e + "generation:\n  temperature: -0.5\n",
       "hostile.yaml:6:3: generation.temperature: must be between 0 and 100, got -0.5"},
      {"SeedNegative", e + "seed: -1\n",
       "hostile.yaml:5:1: seed: expected an unsigned integer, got \"-1\""},
      {"DurationNegative", e + "load:\n  duration_seconds: -10\n",
       "hostile.yaml:6:3: load.duration_seconds: must be > 0, got -10"},
      {"DurationAbsurd", e + "load:\n  duration_seconds: 1e12\n",
       "hostile.yaml:6:3: load.duration_seconds: must be <= 2592000, got 1000000000000"},
      {"TimeoutNegative", e + "    timeouts: {connect_ms: -1}\n",
       "hostile.yaml:5:16: engines[0].timeouts.connect_ms: expected an unsigned integer, "
       "got \"-1\""},
      {"PriceNegative", e + "    price_per_hour: -5\n",
       "hostile.yaml:5:5: engines[0].price_per_hour: must be between 0 and 1000000000, got -5"},
      {"GpuCountOverflow", e + "    gpu_count: 4294967296\n",
       "hostile.yaml:5:5: engines[0].gpu_count: out of range (at most 4294967295), got 4294967296"},
      {"NumberWithTrailingJunk", e + "load:\n  requests: 10abc\n",
       "hostile.yaml:6:3: load.requests: expected an unsigned integer, got \"10abc\""},
      // ---- aliases and odd YAML ----
      {"AliasDuplicatesEngine",
       "engines:\n  - &e {kind: vllm, base_url: \"http://127.0.0.1:8000\", model: m}\n  - *e\n",
       // The alias shares the anchor's position, so the message points at line 2.
       "hostile.yaml:2:5: engines[1].name: duplicate engine name \"vllm\" (also engines[0]); "
       "give each engine a unique name"},
      {"UndefinedAlias", e + "name: *nowhere\n",
       "hostile.yaml:5:7: scenario: YAML syntax error: the referenced anchor is not defined"},
      {"MergeKey", e + "load: {<<: {requests: 3}}\n",
       "hostile.yaml:5:8: load.<<: unknown key (expected one of concurrency, rate, sweep, "
       "trace, requests, duration_seconds, warmup_requests, warmup_seconds, cooldown_seconds, side_by_side, "
       "sessions, load_unit)"},
      {"ComplexKey", e + "? [a, b]\n: c\n",
       "hostile.yaml:5:3: scenario: keys must be plain strings"},
      // yaml-cpp 0.7 alone loops forever on these (found by scenario_loader_fuzz).
      {"StrayCommaAtDocumentStart", ",", "hostile.yaml:1:1: scenario: YAML syntax error: "
       "unexpected \",\" outside a flow collection"},
      {"StrayCommaAfterList", "- a\n,", "hostile.yaml:2:1: scenario: YAML syntax error: "
       "unexpected \",\" outside a flow collection"},
      {"StrayCommaAfterDocumentMarker", "---\n  ,", "hostile.yaml:2:3: scenario: YAML syntax "
       "error: unexpected \",\" outside a flow collection"},
      // The quoted value is cut at 60 bytes; the cut must not split a character (found by
      // scenario_loader_fuzz): 59 ASCII bytes, then a 2-byte character across the cut.
      {"LongValueCutOnCharacter", std::string(59, 'a') + "\xd9\x9b" + "bbb\n",
       "hostile.yaml:1:1: scenario: expected a mapping of scenario keys, got \"" +
           std::string(59, 'a') + "...\""},
      // Unknown keys are shown up to 80 bytes; the same boundary rule (found by
      // scenario_loader_fuzz): 79 ASCII bytes, then a 3-byte character across the cut.
      {"LongUnknownKeyCutOnCharacter", std::string(79, 'k') + "\xee\x91\x9ezz: 1\n",
       "hostile.yaml:1:1: " + std::string(79, 'k') +
           "...: unknown key (expected one of name, description, engines, prompts, generation, "
           "load, slo, thresholds, outputs, seed, telemetry, monitors, tags, label)"},
      {"LongKey", e + std::string(1 << 20, 'k') + ": 1\n",
       "hostile.yaml:5:1048577: scenario: YAML syntax error: illegal map value"},
  };
}

class HostileScenarioTest : public testing::TestWithParam<HostileCase> {};

TEST_P(HostileScenarioTest, FailsWithExactMessage) {
  const HostileCase& bad = GetParam();
  const absl::StatusOr<Scenario> scenario = Parse(bad.yaml);
  ASSERT_FALSE(scenario.ok()) << bad.name << " loaded";
  EXPECT_EQ(scenario.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(scenario.status().message()), bad.message);
}

INSTANTIATE_TEST_SUITE_P(Table, HostileScenarioTest, testing::ValuesIn(HostileCases()),
                         [](const testing::TestParamInfo<HostileCase>& param_info) {
                           return param_info.param.name;
                         });

// Odd but legal YAML loads: a UTF-8 byte-order mark, an explicit !!str tag on a number, an
// escaped NUL inside a quoted description (free text; never used as a path or header).
TEST(HostileScenarioTest, OddButLegalYamlLoads) {
  const std::string e = kEngine;
  absl::StatusOr<Scenario> bom = Parse("\xef\xbb\xbf" + e);
  ASSERT_TRUE(bom.ok()) << bom.status();
  EXPECT_EQ(bom->engines(0).model(), "m");

  absl::StatusOr<Scenario> tagged = Parse(e + "seed: !!str 5\n");
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_EQ(tagged->seed(), 5u);

  absl::StatusOr<Scenario> nul = Parse(e + "description: \"a\\0b\"\n");
  ASSERT_TRUE(nul.ok()) << nul.status();
  EXPECT_EQ(nul->description(), std::string("a\0b", 3));
}

// A file of many small valid engines loads in bounded time (no quadratic duplicate check
// blowing up): 5000 engines, each with a unique name.
TEST(HostileScenarioTest, ManyEnginesLoad) {
  std::string yaml = "engines:\n";
  for (int i = 0; i < 5000; ++i) {
    yaml += "  - {name: e" + std::to_string(i) +
            ", kind: vllm, base_url: \"http://127.0.0.1:8000\", model: m}\n";
  }
  absl::StatusOr<Scenario> scenario = Parse(yaml);
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  EXPECT_EQ(scenario->engines_size(), 5000);
}

}  // namespace
}  // namespace llmbench::coordinator
