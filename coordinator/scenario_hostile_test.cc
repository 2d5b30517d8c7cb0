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
      {"OneByteOverLimit", e + std::string(kMaxScenarioBytes + 1 - e.size(), '#'), ""},
      {"HugeComment", e + "#" + std::string(kMaxScenarioBytes, 'x'), ""},
      // ---- nesting ----
      {"DeepFlowSequences", "engines: " + Repeat("[", 100000), ""},
      {"DeepFlowMappings", "engines: " + Repeat("{a: ", 100000), ""},
      {"DeepBlockMappings",
       [] {
         std::string s;
         for (int i = 0; i < 3000; ++i) s += std::string(static_cast<size_t>(i), ' ') + "a:\n";
         return s;
       }(),
       ""},
      {"NestedListsWhereEngineExpected", "engines: [[[[[[]]]]]]\n", ""},
      // ---- UTF-8 ----
      {"InvalidUtf8DeepInFile", e + "    headers: {X-A: \"ok\xe2\x82\"}\n", ""},
      {"TruncatedSequenceAtEof", e + "name: \xf0\x9f\x98", ""},
      {"EncodedSurrogate", e + "name: \xed\xa0\x80\n", ""},
      {"AboveU10FFFF", e + "name: \xf4\x90\x80\x80\n", ""},
      {"InvalidUtf8InKey", e + "na\xffme: x\n", ""},
      {"Latin1Text", "name: caf\xe9\n" + e, ""},
      {"Utf8Bom", "\xef\xbb\xbf" + e, ""},
      {"EscapedNulInString", e + "name: \"a\\0b\"\n", ""},
      // ---- numbers ----
      {"RpsOverflowsDouble", e + "load:\n  rate:\n    rps: 1e309\n", ""},
      {"RpsInfinity", e + "load:\n  rate:\n    rps: .inf\n", ""},
      {"RpsNegativeZero", e + "load:\n  rate:\n    rps: -0.0\n", ""},
      {"RpsAbsurd", e + "load:\n  rate:\n    rps: 1e300\n", ""},
      {"RequestsUint64Overflow", e + "load:\n  requests: 99999999999999999999999\n", ""},
      {"RequestsHuge", e + "load:\n  requests: 18446744073709551615\n", ""},
      {"ConcurrencyNegative", e + "load:\n  concurrency: -1\n", ""},
      {"MaxTokensNegative", e + "generation:\n  max_tokens: -1\n", ""},
      {"MaxTokensFraction", e + "generation:\n  max_tokens: 1.5\n", ""},
      {"MaxTokensHex", e + "generation:\n  max_tokens: 0x10\n", ""},
      {"TemperatureAbsurd", e + "generation:\n  temperature: 1e300\n", ""},
      {"TemperatureNegative", e + "generation:\n  temperature: -0.5\n", ""},
      {"SeedNegative", e + "seed: -1\n", ""},
      {"DurationNegative", e + "load:\n  duration_seconds: -10\n", ""},
      {"DurationAbsurd", e + "load:\n  duration_seconds: 1e12\n", ""},
      {"TimeoutNegative", e + "    timeouts: {connect_ms: -1}\n", ""},
      {"PriceNegative", e + "    price_per_hour: -5\n", ""},
      {"GpuCountOverflow", e + "    gpu_count: 4294967296\n", ""},
      {"NumberWithTrailingJunk", e + "load:\n  requests: 10abc\n", ""},
      // ---- aliases and odd YAML ----
      {"AliasDuplicatesEngine",
       "engines:\n  - &e {kind: vllm, base_url: \"http://127.0.0.1:8000\", model: m}\n  - *e\n", ""},
      {"UndefinedAlias", e + "name: *nowhere\n", ""},
      {"MergeKey", e + "load: {<<: {requests: 3}}\n", ""},
      {"ComplexKey", e + "? [a, b]\n: c\n", ""},
      {"TaggedValue", e + "seed: !!str 5\n", ""},
      {"LongKey", e + std::string(1 << 20, 'k') + ": 1\n", ""},
  };
}

class HostileScenarioTest : public testing::TestWithParam<HostileCase> {};

TEST_P(HostileScenarioTest, FailsWithExactMessage) {
  const HostileCase& bad = GetParam();
  const absl::StatusOr<Scenario> scenario = Parse(bad.yaml);
  ASSERT_FALSE(scenario.ok()) << bad.name << " loaded";
  EXPECT_EQ(scenario.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scenario.status().message(), bad.message);
}

INSTANTIATE_TEST_SUITE_P(Table, HostileScenarioTest, testing::ValuesIn(HostileCases()),
                         [](const testing::TestParamInfo<HostileCase>& param_info) {
                           return param_info.param.name;
                         });

}  // namespace
}  // namespace llmbench::coordinator
