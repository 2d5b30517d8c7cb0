#include "coordinator/scenario_loader.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

using llmbench::v1::Scenario;

// A valid engine block (lines 1-4) that the bad cases build on.
constexpr char kEngine[] =
    "engines:\n"
    "  - kind: vllm\n"
    "    base_url: http://127.0.0.1:8000\n"
    "    model: m\n";

std::string EmptyDir() {
  std::string dir = testing::TempDir() + "/scenario_loader_test_empty";
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

absl::StatusOr<Scenario> Parse(const std::string& yaml) {
  return ParseScenarioYaml(yaml, "bad.yaml", EmptyDir());
}

struct BadCase {
  std::string name;
  std::string yaml;
  std::string message;
};

std::vector<BadCase> BadCases() {
  const std::string e = kEngine;
  return {
      {"NegativeRps", e + "load:\n  rate:\n    rps: -3\n",
       "bad.yaml:7:5: load.rate.rps: must be > 0, got -3"},
      {"UnknownKind", "engines:\n- name: a\n  kind: vlm\n",
       "bad.yaml:3:3: engines[0].kind: unknown value \"vlm\" (expected one of ollama, vllm, tgi, "
       "openai)"},
      {"MisspelledKey", "engines:\n- kind: vllm\n  base_url: http://x\n  modle: m\n",
       "bad.yaml:4:3: engines[0].modle: unknown key (did you mean \"model\"?)"},
      {"NoEngines", "name: x\nengines: []\n",
       "bad.yaml:2:1: engines: required: at least one engine"},
      {"EnginesAbsent", "name: x\n", "bad.yaml:1:1: engines: required: at least one engine"},
      {"MissingModel",
       "# a comment\nengines:\n  - kind: vllm\n    base_url: http://127.0.0.1:8000\n",
       "bad.yaml:3:5: engines[0].model: required"},
      {"MissingKind", "engines:\n  - base_url: http://127.0.0.1:8000\n    model: m\n",
       "bad.yaml:2:5: engines[0].kind: required (one of ollama, vllm, tgi, openai)"},
      {"RequestsNotANumber", e + "load:\n  requests: ten\n",
       "bad.yaml:6:3: load.requests: expected an unsigned integer, got \"ten\""},
      {"RequestsNegative", e + "load:\n  requests: -5\n",
       "bad.yaml:6:3: load.requests: expected an unsigned integer, got \"-5\""},
      {"RequestsZero", e + "load:\n  requests: 0\n",
       "bad.yaml:6:3: load.requests: must be between 1 and 10000000, got 0"},
      {"MissingDataset", e + "prompts:\n  dataset:\n    path: missing.json\n",
       "bad.yaml:7:5: prompts.dataset.path: cannot read \"missing.json\": No such file or "
       "directory"},
      {"UnknownTopLevelKeyNear", e + "seeed: 3\n",
       "bad.yaml:5:1: seeed: unknown key (did you mean \"seed\"?)"},
      {"UnknownTopLevelKeyFar", e + "colour: red\n",
       "bad.yaml:5:1: colour: unknown key (expected one of name, description, engines, prompts, "
       "generation, load, slo, thresholds, outputs, seed, telemetry, monitors, tags, label)"},
      {"TraceBlockTokensZero",
       e + "load:\n  trace:\n    file: " + LLMBENCH_SOURCE_DIR +
           "/tests/fixtures/traces/mooncake_small.jsonl\n    block_tokens: 0\n",
       "bad.yaml:8:5: load.trace.block_tokens: must be between 1 and 1000000, got 0"},
      {"TraceBlockTokensOnAPlainTrace",
       e + "load:\n  trace:\n    file: " + LLMBENCH_SOURCE_DIR +
           "/tests/fixtures/traces/plain_small.jsonl\n    format: plain\n    block_tokens: 16\n",
       "bad.yaml:9:5: load.trace.block_tokens: only for mooncake traces (hash_ids)"},
      {"ConcurrencyAndRate", e + "load:\n  concurrency: 4\n  rate: {rps: 3}\n",
       "bad.yaml:7:3: load: give exactly one of concurrency, rate, sweep, trace"},
      {"DatasetAndSynthetic",
       e + "prompts:\n  synthetic: {count: 3}\n  dataset: {path: x.json}\n",
       "bad.yaml:7:3: prompts: give exactly one of synthetic, dataset"},
      {"MappingForScalar",
       "engines:\n  - kind: vllm\n    base_url: http://127.0.0.1:8000\n    model: {name: m}\n",
       "bad.yaml:4:5: engines[0].model: expected a string, got a mapping"},
      {"ListForMapping", e + "load: [1, 2]\n",
       "bad.yaml:5:7: load: expected a mapping, got a list"},
      {"ScalarForList", "engines: vllm\n", "bad.yaml:1:1: engines: expected a list, got \"vllm\""},
      {"EmptyFile", "",
       "bad.yaml:1:1: scenario: file is empty (a scenario needs at least engines)"},
      {"CommentsOnly", "# nothing here\n\n",
       "bad.yaml:1:1: scenario: file is empty (a scenario needs at least engines)"},
      {"RootIsList", "- a\n- b\n",
       "bad.yaml:1:1: scenario: expected a mapping of scenario keys, got a list"},
      {"TwoDocuments", e + "---\nname: x\n",
       "bad.yaml:6:1: scenario: expected one YAML document, found 2"},
      {"DuplicateEngineNames",
       e + "  - kind: vllm\n    base_url: http://127.0.0.1:8001\n    model: m\n",
       "bad.yaml:5:5: engines[1].name: duplicate engine name \"vllm\" (also engines[0]); give each "
       "engine a unique name"},
      {"BadBaseUrl", "engines:\n  - kind: vllm\n    base_url: 127.0.0.1:8000\n    model: m\n",
       "bad.yaml:3:5: engines[0].base_url: must start with http:// or https://, got "
       "\"127.0.0.1:8000\""},
      {"BaseUrlWithoutHost", "engines:\n  - kind: vllm\n    base_url: http://\n    model: m\n",
       "bad.yaml:3:5: engines[0].base_url: has no host: \"http://\""},
      {"ConcurrencyZero", e + "load:\n  concurrency: 0\n",
       "bad.yaml:6:3: load.concurrency: must be between 1 and 1000000, got 0"},
      {"ConcurrencyAbsurd", e + "load:\n  concurrency: 2000000\n",
       "bad.yaml:6:3: load.concurrency: must be between 1 and 1000000, got 2000000"},
      {"ConcurrencyLongForm", e + "load:\n  concurrency: {concurrency: 0}\n",
       "bad.yaml:6:3: load.concurrency: must be between 1 and 1000000, got 0"},
      {"MaxTokensAbsurd", e + "generation:\n  max_tokens: 2000000\n",
       "bad.yaml:6:3: generation.max_tokens: must be between 1 and 1000000, got 2000000"},
      {"Uint32Overflow", e + "generation:\n  max_tokens: 5000000000\n",
       "bad.yaml:6:3: generation.max_tokens: out of range (at most 4294967295), got 5000000000"},
      {"BadBool", e + "generation:\n  stream: maybe\n",
       "bad.yaml:6:3: generation.stream: expected true or false, got \"maybe\""},
      {"NotFinite", e + "load:\n  rate: {rps: nan}\n",
       "bad.yaml:6:10: load.rate.rps: must be a finite number, got \"nan\""},
      {"RateWithoutRps", e + "load:\n  rate: {arrival: poisson}\n",
       "bad.yaml:6:3: load.rate.rps: must be > 0, got 0"},
      {"UnknownArrival", e + "load:\n  rate: {rps: 2, arrival: bursty}\n",
       "bad.yaml:6:18: load.rate.arrival: unknown value \"bursty\" (expected one of constant, "
       "poisson)"},
      {"ErrorRateAboveOne", e + "thresholds:\n  max_error_rate: 1.5\n",
       "bad.yaml:6:3: thresholds.max_error_rate: must be between 0 and 1, got 1.5"},
      {"UniformMaxBelowMin",
       e + "prompts:\n  synthetic:\n    input_tokens: {kind: uniform, min: 10, max: 5}\n",
       "bad.yaml:7:44: prompts.synthetic.input_tokens.max: must be >= min (10), got 5"},
      {"ApiNotServedByKind",
       "engines:\n  - kind: vllm\n    base_url: http://127.0.0.1:8000\n    model: m\n"
       "    api: ollama_chat\n",
       "bad.yaml:5:5: engines[0].api: ollama_chat is not served by a vllm engine (expected one of "
       "completions, chat_completions)"},
      {"HeaderInjection", e + "    headers: {X-A: \"b\\r\\nHost: evil\"}\n",
       "bad.yaml:5:5: engines[0].headers.X-A: header values must not contain line breaks"},
      {"DuplicateKey", e + "seed: 1\nseed: 2\n", "bad.yaml:6:1: seed: duplicate key"},
      {"InvalidUtf8", "name: \xff\xfe\n" + e, "bad.yaml:1:7: scenario: invalid UTF-8 (byte 0xff)"},
      {"OverlongUtf8", "name: \xc0\xaf\n" + e, "bad.yaml:1:7: scenario: invalid UTF-8 (byte 0xc0)"},
      {"NulByte", std::string("name: a\0b\n", 10) + e,
       "bad.yaml:1:8: scenario: control character 0x00 is not allowed"},
      {"SyntaxError", "engines: [\n  {kind: vllm\n",
       "bad.yaml:3:1: scenario: YAML syntax error: end of map flow not found"},
      {"BadIndentation", "engines:\n  - kind: vllm\n   base_url: x\n",
       "bad.yaml:3:4: scenario: YAML syntax error: end of sequence not found"},
      {"SloNegative", e + "slo:\n  ttft_ms: -1\n",
       "bad.yaml:6:3: slo.ttft_ms: must be > 0, got -1"},
      {"BadApiKeyEnv", e + "    api_key_env: \"my key\"\n",
       "bad.yaml:5:5: engines[0].api_key_env: must be an environment variable name "
       "([A-Za-z_][A-Za-z0-9_]*), got \"my key\""},
      {"SweepMaxBelowStart", e + "load:\n  sweep: {start_rps: 10, max_rps: 5}\n",
       "bad.yaml:6:26: load.sweep.max_rps: must be >= start_rps (10), got 5"},
  };
}

class BadScenarioTest : public testing::TestWithParam<BadCase> {};

TEST_P(BadScenarioTest, FailsWithExactMessage) {
  const BadCase& bad = GetParam();
  absl::StatusOr<Scenario> scenario = Parse(bad.yaml);
  ASSERT_FALSE(scenario.ok()) << bad.yaml;
  EXPECT_EQ(scenario.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(scenario.status().message()), bad.message);
}

INSTANTIATE_TEST_SUITE_P(Table, BadScenarioTest, testing::ValuesIn(BadCases()),
                         [](const testing::TestParamInfo<BadCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(ScenarioLoaderTest, ATotalTimeoutAloneLowersTheDefaultFirstByte) {
  absl::StatusOr<Scenario> scenario = Parse(
      "engines:\n- {kind: vllm, base_url: http://x, model: m, timeouts: {total_ms: 3000}}\n");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  EXPECT_EQ(scenario->engines(0).timeouts().total_ms(), 3000u);
  EXPECT_EQ(scenario->engines(0).timeouts().first_byte_ms(), 3000u);
  // A contradiction the user wrote is still reported.
  absl::StatusOr<Scenario> both = Parse(
      "engines:\n- {kind: vllm, base_url: http://x, model: m, timeouts: {total_ms: 3000, "
      "first_byte_ms: 5000}}\n");
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(std::string(both.status().message()),
            "bad.yaml:2:73: engines[0].timeouts.first_byte_ms: must be <= total_ms (3000), got 5000");
}

TEST(ScenarioLoaderTest, DeepNestingIsAnErrorNotACrash) {
  std::string yaml = "name: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  absl::StatusOr<Scenario> scenario = Parse(yaml);
  ASSERT_FALSE(scenario.ok());
  EXPECT_EQ(scenario.status().code(), absl::StatusCode::kInvalidArgument);
  // yaml-cpp stops at 500 levels and marks where it gave up (the end of the line here).
  EXPECT_EQ(std::string(scenario.status().message()),
            "bad.yaml:1:200007: scenario: YAML nesting is too deep (more than 500 levels)");
}

TEST(ScenarioLoaderTest, ModerateNestingUnderAScalarFieldNamesTheField) {
  std::string yaml = std::string(kEngine) + "name: " + std::string(50, '[') +
                     std::string(50, ']') + "\n";
  absl::StatusOr<Scenario> scenario = Parse(yaml);
  ASSERT_FALSE(scenario.ok());
  EXPECT_EQ(std::string(scenario.status().message()),
            "bad.yaml:5:1: name: expected a string, got a list");
}

TEST(ScenarioLoaderTest, HugeInputIsRejectedBeforeParsing) {
  std::string yaml(kMaxScenarioBytes + 1, '#');
  absl::StatusOr<Scenario> scenario = Parse(yaml);
  ASSERT_FALSE(scenario.ok());
  EXPECT_EQ(std::string(scenario.status().message()),
            "bad.yaml:1:1: scenario: file is too large (16777217 bytes; the limit is 16777216)");
}

TEST(ScenarioLoaderTest, HugeFileIsRejectedBeforeReading) {
  const std::string path = testing::TempDir() + "/huge_scenario.yaml";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(kMaxScenarioBytes + 10, '#');
  }
  absl::StatusOr<Scenario> scenario = LoadScenarioFile(path);
  ASSERT_FALSE(scenario.ok());
  EXPECT_EQ(std::string(scenario.status().message()),
            path + ":1:1: scenario: file is too large (16777226 bytes; the limit is 16777216)");
  std::remove(path.c_str());
}

TEST(ScenarioLoaderTest, MissingFileIsNotFound) {
  absl::StatusOr<Scenario> scenario = LoadScenarioFile("/nonexistent/dir/s.yaml");
  ASSERT_FALSE(scenario.ok());
  EXPECT_EQ(scenario.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(scenario.status().message()),
            "/nonexistent/dir/s.yaml: cannot read: No such file or directory");
}

TEST(ScenarioLoaderTest, DefaultsAreApplied) {
  absl::StatusOr<Scenario> parsed = Parse(kEngine);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Scenario& s = *parsed;
  ASSERT_EQ(s.engines_size(), 1);
  const auto& engine = s.engines(0);
  EXPECT_EQ(engine.name(), "vllm");
  EXPECT_EQ(engine.api(), llmbench::v1::API_CHAT_COMPLETIONS);
  EXPECT_EQ(engine.timeouts().connect_ms(), 5000u);
  EXPECT_EQ(engine.timeouts().first_byte_ms(), 60000u);
  EXPECT_EQ(engine.timeouts().total_ms(), 600000u);
  EXPECT_FALSE(engine.http2());
  ASSERT_TRUE(s.prompts().has_synthetic());
  EXPECT_EQ(s.prompts().synthetic().input_tokens().kind(),
            llmbench::v1::TokenLengthDistribution::KIND_FIXED);
  EXPECT_EQ(s.prompts().synthetic().input_tokens().mean(), 128u);
  EXPECT_EQ(s.prompts().synthetic().count(), 1000u);
  EXPECT_TRUE(s.generation().has_max_tokens());
  EXPECT_EQ(s.generation().max_tokens(), 128u);
  EXPECT_TRUE(s.generation().has_temperature());
  EXPECT_EQ(s.generation().temperature(), 0.0);
  EXPECT_TRUE(s.generation().stream());
  EXPECT_FALSE(s.generation().has_seed());
  ASSERT_TRUE(s.load().has_concurrency());
  EXPECT_EQ(s.load().concurrency().concurrency(), 1u);
  EXPECT_TRUE(s.load().has_requests());
  EXPECT_EQ(s.load().requests(), 100u);
  EXPECT_FALSE(s.load().has_duration_seconds());
  EXPECT_EQ(s.thresholds().max_lateness_p99_ms(), 10.0);
  EXPECT_EQ(s.thresholds().max_error_rate(), 0.05);
  EXPECT_EQ(s.thresholds().engine_down_seconds(), 5.0);
  EXPECT_FALSE(s.thresholds().has_min_slo_attainment());
  EXPECT_EQ(s.engines(0).timeouts().idle_ms(), 60000u);
  EXPECT_TRUE(s.outputs().csv());
  EXPECT_TRUE(s.outputs().html());
  EXPECT_EQ(s.outputs().dir(), "");
  EXPECT_EQ(s.seed(), 42u);
}

TEST(ScenarioLoaderTest, DefaultApiPerKind) {
  const std::string yaml =
      "engines:\n"
      "  - {kind: ollama, base_url: http://h:1, model: m}\n"
      "  - {kind: tgi, base_url: http://h:2}\n"
      "  - {kind: openai, base_url: https://h:3, model: m}\n";
  absl::StatusOr<Scenario> s = Parse(yaml);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->engines(0).api(), llmbench::v1::API_OLLAMA_GENERATE);
  EXPECT_EQ(s->engines(1).api(), llmbench::v1::API_TGI_GENERATE);
  EXPECT_EQ(s->engines(2).api(), llmbench::v1::API_CHAT_COMPLETIONS);
  EXPECT_EQ(s->engines(0).name(), "ollama");
  EXPECT_EQ(s->engines(1).name(), "tgi");
  EXPECT_EQ(s->engines(2).name(), "openai");
}

TEST(ScenarioLoaderTest, ApiAliasesDependOnKind) {
  const std::string yaml =
      "engines:\n"
      "  - {kind: ollama, base_url: http://h:1, model: m, api: chat, name: a}\n"
      "  - {api: generate, kind: ollama, base_url: http://h:1, model: m, name: b}\n"
      "  - {kind: tgi, base_url: http://h:2, api: generate}\n"
      "  - {kind: vllm, base_url: http://h:3, model: m, api: chat}\n"
      "  - {kind: vllm, base_url: http://h:3, model: m, api: COMPLETIONS, name: c}\n";
  absl::StatusOr<Scenario> s = Parse(yaml);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->engines(0).api(), llmbench::v1::API_OLLAMA_CHAT);
  EXPECT_EQ(s->engines(1).api(), llmbench::v1::API_OLLAMA_GENERATE);
  EXPECT_EQ(s->engines(2).api(), llmbench::v1::API_TGI_GENERATE);
  EXPECT_EQ(s->engines(3).api(), llmbench::v1::API_CHAT_COMPLETIONS);
  EXPECT_EQ(s->engines(4).api(), llmbench::v1::API_COMPLETIONS);
}

TEST(ScenarioLoaderTest, ExplicitFalseAndZeroSurviveDefaults) {
  absl::StatusOr<Scenario> s =
      Parse(std::string(kEngine) +
            "generation: {stream: false, temperature: 0.7, max_tokens: 1}\n"
            "outputs: {csv: false, html: no, dir: out/x}\n"
            "load: {rate: {rps: 0.5, arrival: poisson}, duration_seconds: 30}\n"
            "seed: 0\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->generation().stream());
  EXPECT_EQ(s->generation().temperature(), 0.7);
  EXPECT_FALSE(s->outputs().csv());
  EXPECT_FALSE(s->outputs().html());
  EXPECT_EQ(s->outputs().dir(), "out/x");
  EXPECT_EQ(s->load().rate().arrival(), llmbench::v1::ARRIVAL_POISSON);
  EXPECT_FALSE(s->load().has_requests());  // duration-bounded: no default request count
  EXPECT_EQ(s->load().duration_seconds(), 30.0);
  EXPECT_TRUE(s->has_seed());
  EXPECT_EQ(s->seed(), 0u);
}

TEST(ScenarioLoaderTest, ValidateWithoutSourceMapGivesPathAndReason) {
  Scenario s;
  auto* engine = s.add_engines();
  engine->set_kind(llmbench::v1::ENGINE_KIND_VLLM);
  engine->set_base_url("http://127.0.0.1:1");
  engine->set_model("m");
  s.mutable_load()->mutable_rate()->set_rps(0);
  ApplyScenarioDefaults(&s);
  absl::Status status = ValidateScenario(s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), "load.rate.rps: must be > 0, got 0");
}

TEST(ScenarioLoaderTest, ApplyDefaultsIsIdempotent) {
  absl::StatusOr<Scenario> s = Parse(kEngine);
  ASSERT_TRUE(s.ok());
  Scenario again = *s;
  ApplyScenarioDefaults(&again);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*s, again));
}

TEST(ScenarioLoaderTest, RoundTripThroughYaml) {
  const std::string yaml =
      "name: \"round: trip\"\n"
      "description: |\n  two\n  lines \u00e9\u2713 \\ \"q\"\n"
      "engines:\n"
      "  - name: \"123\"\n"
      "    kind: ollama\n"
      "    base_url: http://127.0.0.1:11434\n"
      "    model: \"llama3.2:1b\"\n"
      "    api: chat\n"
      "    api_key_env: OLLAMA_KEY\n"
      "    headers: {X-B: \"two words\", X-A: \"#hash\"}\n"
      "    http2: true\n"
      "    price_per_hour: 0.1\n"
      "    gpu_count: 2\n"
      "  - kind: vllm\n"
      "    base_url: https://example.invalid/v\n"
      "    model: \"true\"\n"
      "prompts:\n"
      "  synthetic: {input_tokens: {kind: normal, mean: 100, stddev: 12.345678901234567, min: 5, "
      "max: 300}, count: 7}\n"
      "  shared_prefix: {prefix_tokens: 64, groups: 3}\n"
      "  system_prompt: \"be: brief\"\n"
      "generation: {max_tokens: 17, ignore_eos: true, temperature: 0.30000000000000004, seed: "
      "18446744073709551615, stream: false}\n"
      "load:\n"
      "  rate: {rps: 1000.7, arrival: poisson, ramp: {from_rps: 0, to_rps: 5, seconds: 2.5}, "
      "burst: {size: 3, every_seconds: 0.1}}\n"
      "  requests: 1001\n"
      "  duration_seconds: 1e-3\n"
      "  warmup_requests: 5\n"
      "  warmup_seconds: 1.5\n"
      "  cooldown_seconds: 2\n"
      "slo: {ttft_ms: 250, itl_ms: 20, tpot_ms: 30, e2e_ms: 9000}\n"
      "thresholds: {max_error_rate: 0, max_lateness_p99_ms: 2.5}\n"
      "outputs: {dir: results/x, csv: false}\n"
      "seed: 9\n";
  absl::StatusOr<Scenario> first = Parse(yaml);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string emitted = ScenarioToYaml(*first);
  absl::StatusOr<Scenario> second = ParseScenarioYaml(emitted, "emitted.yaml", EmptyDir());
  ASSERT_TRUE(second.ok()) << second.status() << "\n" << emitted;
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(*first, *second)) << diff << "\n" << emitted;
  EXPECT_EQ(first->engines(0).headers().at("X-A"), "#hash");
  EXPECT_EQ(first->generation().seed(), 18446744073709551615u);
  // Emitting again gives the same text.
  EXPECT_EQ(ScenarioToYaml(*second), emitted);
}

TEST(ScenarioLoaderTest, ConcurrencyShorthandRoundTrips) {
  absl::StatusOr<Scenario> s = Parse(std::string(kEngine) + "load: {concurrency: 32}\n");
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string emitted = ScenarioToYaml(*s);
  EXPECT_NE(emitted.find("concurrency: 32"), std::string::npos) << emitted;
  absl::StatusOr<Scenario> again = ParseScenarioYaml(emitted, "e.yaml", EmptyDir());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*s, *again));
}

TEST(ScenarioLoaderTest, EveryExampleLoads) {
  const std::string dir = std::string(LLMBENCH_SOURCE_DIR) + "/examples";
  DIR* handle = ::opendir(dir.c_str());
  ASSERT_NE(handle, nullptr);
  std::vector<std::string> files;
  while (dirent* entry = ::readdir(handle)) {
    const std::string name = entry->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml") files.push_back(name);
  }
  ::closedir(handle);
  std::sort(files.begin(), files.end());
  const std::vector<std::string> required = {"compare-sim.yaml", "ollama.yaml",
                                             "openai-llamacpp.yaml", "sim.yaml", "tgi.yaml",
                                             "vllm.yaml"};
  for (const std::string& name : required) {
    EXPECT_NE(std::find(files.begin(), files.end(), name), files.end()) << name;
  }
  for (const std::string& name : files) {
    absl::StatusOr<Scenario> s = LoadScenarioFile(dir + "/" + name);
    EXPECT_TRUE(s.ok()) << name << ": " << s.status();
    if (!s.ok()) continue;
    absl::StatusOr<Scenario> again = ParseScenarioYaml(ScenarioToYaml(*s), name, dir);
    ASSERT_TRUE(again.ok()) << name << ": " << again.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*s, *again)) << name;
  }
}

TEST(ScenarioLoaderTest, SimExampleIsTheDocumentedDefaultRun) {
  absl::StatusOr<Scenario> s =
      LoadScenarioFile(std::string(LLMBENCH_SOURCE_DIR) + "/examples/sim.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->engines_size(), 1);
  EXPECT_EQ(s->engines(0).kind(), llmbench::v1::ENGINE_KIND_VLLM);
  EXPECT_EQ(s->engines(0).base_url(), "http://127.0.0.1:8000");
  EXPECT_EQ(s->engines(0).model(), "sim-model");
  EXPECT_EQ(s->load().concurrency().concurrency(), 32u);
  EXPECT_EQ(s->load().requests(), 500u);
  EXPECT_EQ(s->generation().max_tokens(), 64u);
  EXPECT_EQ(s->prompts().synthetic().input_tokens().mean(), 128u);
}

TEST(ScenarioLoaderTest, DatasetPathIsRelativeToTheScenarioFile) {
  const std::string dir = testing::TempDir() + "/scenario_loader_dataset";
  ::mkdir(dir.c_str(), 0755);
  {
    std::ofstream out(dir + "/prompts.jsonl");
    out << "{\"prompt\": \"hello there\"}\n";
  }
  {
    std::ofstream out(dir + "/s.yaml");
    out << kEngine << "prompts:\n  dataset: {path: prompts.jsonl}\n";
  }
  absl::StatusOr<Scenario> s = LoadScenarioFile(dir + "/s.yaml");
  EXPECT_TRUE(s.ok()) << s.status();
  absl::StatusOr<Scenario> elsewhere = ParseScenarioYaml(
      std::string(kEngine) + "prompts:\n  dataset: {path: prompts.jsonl}\n", "s.yaml", EmptyDir());
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(std::string(elsewhere.status().message()),
            "s.yaml:6:13: prompts.dataset.path: cannot read \"prompts.jsonl\": No such file or "
            "directory");
}

TEST(ScenarioLoaderTest, EnumYamlNames) {
  EXPECT_EQ(EnumYamlName(llmbench::v1::EngineKind_descriptor()->FindValueByNumber(
                llmbench::v1::ENGINE_KIND_OPENAI)),
            "openai");
  EXPECT_EQ(EnumYamlName(llmbench::v1::Api_descriptor()->FindValueByNumber(
                llmbench::v1::API_TGI_GENERATE)),
            "tgi_generate");
  EXPECT_EQ(EnumYamlName(llmbench::v1::TokenLengthDistribution::Kind_descriptor()
                             ->FindValueByNumber(
                                 llmbench::v1::TokenLengthDistribution::KIND_NORMAL)),
            "normal");
}

}  // namespace
}  // namespace llmbench::coordinator
