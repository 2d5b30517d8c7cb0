// Issue 17's coordinator pieces without processes: output lengths (prompts.h), the
// --output-tokens-dist flag, token counters' request bodies and answers against the recorded
// engine fixtures (token_counter.h), exact-length calibration and the requested-vs-reported
// comparison (prompt_lengths.h), the DCGM accumulator on recorded exporter text
// (gpu_metrics.h), requests.jsonl lines (text_export.h), the console lines
// (workload_summary.h), the scenario checks of the new fields, and `validate`'s plan.
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/diff.h"
#include "coordinator/gpu_metrics.h"
#include "coordinator/prompt_lengths.h"
#include "coordinator/prompts.h"
#include "coordinator/run_plan.h"
#include "coordinator/scenario_loader.h"
#include "coordinator/text_export.h"
#include "coordinator/token_counter.h"
#include "coordinator/workload_summary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;
using ::testing::HasSubstr;

std::string Dir() {
  std::string dir = ::testing::TempDir() + "/workload_test";
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

std::string Write(const std::string& name, const std::string& content) {
  const std::string path = Dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

v1::Prompts SyntheticPrompts(uint32_t words, uint32_t count) {
  v1::Prompts p;
  p.mutable_synthetic()->mutable_input_tokens()->set_kind(v1::TokenLengthDistribution::KIND_FIXED);
  p.mutable_synthetic()->mutable_input_tokens()->set_mean(words);
  p.mutable_synthetic()->set_count(count);
  return p;
}

// ---- output lengths -------------------------------------------------------------------------

TEST(OutputLengthsTest, DistributionsAreSeededAndInRange) {
  v1::Generation generation;
  ASSERT_TRUE(ParseOutputTokensDist("uniform:64:256", &generation).ok());
  auto a = BuildPrompts(SyntheticPrompts(8, 500), 7, "", generation);
  auto b = BuildPrompts(SyntheticPrompts(8, 500), 7, "", generation);
  auto c = BuildPrompts(SyntheticPrompts(8, 500), 8, "", generation);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  std::map<uint32_t, int> seen;
  bool differs = false;
  for (size_t i = 0; i < a->size(); ++i) {
    ASSERT_TRUE((*a)[i].has_max_tokens());
    EXPECT_EQ((*a)[i].max_tokens(), (*b)[i].max_tokens()) << "same seed, same lengths";
    differs |= (*a)[i].max_tokens() != (*c)[i].max_tokens();
    EXPECT_GE((*a)[i].max_tokens(), 64u);
    EXPECT_LE((*a)[i].max_tokens(), 256u);
    ++seen[(*a)[i].max_tokens()];
    // The prompts themselves do not depend on the output lengths.
    EXPECT_EQ((*a)[i].approx_tokens(), 8u);
  }
  EXPECT_TRUE(differs) << "another seed, other lengths";
  EXPECT_GT(seen.size(), 100u) << "uniform over 193 values";

  // Without an output distribution no prompt has its own max_tokens.
  auto plain = BuildPrompts(SyntheticPrompts(8, 10), 7, "");
  ASSERT_TRUE(plain.ok());
  for (const v1::Prompt& p : *plain) EXPECT_FALSE(p.has_max_tokens());
}

TEST(OutputLengthsTest, NormalAndLognormalMeansAndClamps) {
  for (const char* spec :
       {"normal:128:32", "lognormal:128:0.5", "lognormal:128:0.5:100:150", "fixed:77"}) {
    SCOPED_TRACE(spec);
    v1::Generation generation;
    ASSERT_TRUE(ParseOutputTokensDist(spec, &generation).ok());
    auto prompts = BuildPrompts(SyntheticPrompts(4, 20000), 1, "", generation);
    ASSERT_TRUE(prompts.ok());
    double sum = 0;
    uint32_t low = UINT32_MAX, high = 0;
    for (const v1::Prompt& p : *prompts) {
      sum += p.max_tokens();
      low = std::min(low, p.max_tokens());
      high = std::max(high, p.max_tokens());
    }
    const double mean = sum / prompts->size();
    if (std::string(spec) == "fixed:77") {
      EXPECT_EQ(low, 77u);
      EXPECT_EQ(high, 77u);
    } else if (std::string(spec) == "lognormal:128:0.5:100:150") {
      EXPECT_EQ(low, 100u);
      EXPECT_EQ(high, 150u);
    } else {
      // 20 000 draws: the sample mean is within 1% of 128 (standard error 0.23 and 0.49).
      EXPECT_NEAR(mean, 128, 1.3);
      EXPECT_GE(low, 1u);
    }
  }
}

TEST(OutputLengthsTest, ShareGptRepliesAndJsonlNumbers) {
  const std::string sharegpt = Write(
      "sharegpt.json",
      R"([{"conversations":[{"from":"system","value":"be brief"},{"from":"human","value":"hi there"},)"
      R"({"from":"gpt","value":"one two three four five"},{"from":"human","value":"more"},)"
      R"({"from":"gpt","value":"x"}]},)"
      R"({"conversations":[{"from":"human","value":"no reply here"}]},)"
      R"({"conversations":[{"role":"user","content":"chat style"},{"role":"assistant","content":"a b"}]}])");
  v1::Prompts prompts;
  prompts.mutable_dataset()->set_path(sharegpt);
  v1::Generation generation;
  generation.set_output_tokens_from_dataset(true);
  absl::StatusOr<PromptPlan> plan = PlanPrompts(prompts, generation, 42, "");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->prompts.size(), 3u);
  EXPECT_EQ(plan->prompts[0].text(), "hi there");
  EXPECT_EQ(plan->prompts[0].max_tokens(), 5u) << "the first gpt turn after the human turn used";
  EXPECT_EQ(plan->replies[0], "one two three four five");
  EXPECT_FALSE(plan->prompts[1].has_max_tokens()) << "no reply: generation.max_tokens";
  EXPECT_EQ(plan->prompts[2].max_tokens(), 2u);

  const std::string jsonl = Write("lengths.jsonl",
                                  "{\"prompt\":\"a b c\",\"max_tokens\":17}\n"
                                  "{\"prompt\":\"d e\",\"output_tokens\":3}\n"
                                  "{\"prompt\":\"f\"}\n");
  prompts.mutable_dataset()->set_path(jsonl);
  ASSERT_TRUE(ParseOutputTokensDist("fixed:9", &generation).ok());
  plan = PlanPrompts(prompts, generation, 42, "");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->prompts[0].max_tokens(), 17u);
  EXPECT_EQ(plan->prompts[1].max_tokens(), 3u);
  EXPECT_EQ(plan->prompts[2].max_tokens(), 9u) << "no number: the distribution's";

  const std::string bad = Write("bad.jsonl", "{\"prompt\":\"a\",\"max_tokens\":0}\n");
  prompts.mutable_dataset()->set_path(bad);
  EXPECT_EQ(PlanPrompts(prompts, generation, 42, "").status().message(),
            absl::StrCat(bad, ":1: \"max_tokens\" must be a whole number between 1 and 1000000"));
}

TEST(OutputTokensDistFlagTest, RefusesWithTheFlagsName) {
  v1::Generation g;
  EXPECT_EQ(ParseOutputTokensDist("uniform:9:3", &g).message(),
            "--output-tokens-dist: uniform needs MIN <= MAX, got \"uniform:9:3\"");
  EXPECT_EQ(ParseOutputTokensDist("fixed:0", &g).message(),
            "--output-tokens-dist: token counts must be whole numbers from 1 to 1000000, got "
            "\"fixed:0\"");
  EXPECT_EQ(ParseOutputTokensDist("lognormal:128:11", &g).message(),
            "--output-tokens-dist: the lognormal's SIGMA must be between 0 and 10, got "
            "\"lognormal:128:11\"");
  EXPECT_EQ(
      ParseOutputTokensDist("poisson:3", &g).message(),
      "--output-tokens-dist: expected fixed:N, uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX], "
      "lognormal:MEAN:SIGMA[:MIN:MAX] or dataset, got \"poisson:3\"");
  ASSERT_TRUE(ParseOutputTokensDist("normal:128:32:16:512", &g).ok());
  EXPECT_EQ(g.output_tokens().kind(), v1::TokenLengthDistribution::KIND_NORMAL);
  EXPECT_EQ(g.output_tokens().mean(), 128u);
  EXPECT_EQ(g.output_tokens().stddev(), 32);
  EXPECT_EQ(g.output_tokens().min(), 16u);
  EXPECT_EQ(g.output_tokens().max(), 512u);
}

// ---- token counters against the recorded engine fixtures ---------------------------------------

std::string EngineFixture(const std::string& name) {
  std::string text = ReadAll(std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/engines/" + name);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

TEST(TokenCounterTest, RequestBodiesAndAnswersOfEachEngine) {
  v1::Engine vllm;
  vllm.set_kind(v1::ENGINE_KIND_VLLM);
  vllm.set_model("meta-llama/Llama-3.1-8B-Instruct");
  vllm.set_api(v1::API_COMPLETIONS);
  v1::Prompt prompt;
  prompt.set_text("What is generative AI?");
  TokenizeCall call = TokenizeRequestFor(vllm, prompt, true);
  EXPECT_EQ(call.route, "/tokenize");
  EXPECT_EQ(call.body, EngineFixture("vllm/tokenize.request.json"));
  EXPECT_EQ(ParseTokenizeCount(v1::ENGINE_KIND_VLLM, "/tokenize",
                               EngineFixture("vllm/tokenize.json"), false),
            7u);
  vllm.set_api(v1::API_CHAT_COMPLETIONS);
  prompt.set_system("Be brief.");
  EXPECT_EQ(
      TokenizeRequestFor(vllm, prompt, true).body,
      "{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"messages\":[{\"role\":\"system\","
      "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"What is generative AI?\"}]}");
  EXPECT_EQ(TokenizeRequestFor(vllm, prompt, false).body,
            "{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"prompt\":\"What is generative AI?\","
            "\"add_special_tokens\":false}");

  v1::Engine llamacpp;
  llamacpp.set_kind(v1::ENGINE_KIND_OPENAI);
  llamacpp.set_api(v1::API_COMPLETIONS);
  prompt.clear_system();
  prompt.set_text("Hello world");
  EXPECT_EQ(TokenizeRequestFor(llamacpp, prompt, true).body,
            "{\"content\":\"Hello world\",\"add_special\":true,\"parse_special\":true}");
  EXPECT_EQ(ParseTokenizeCount(v1::ENGINE_KIND_OPENAI, "/tokenize",
                               EngineFixture("llamacpp/tokenize.json"), false),
            2u);
  llamacpp.set_api(v1::API_CHAT_COMPLETIONS);
  call = TokenizeRequestFor(llamacpp, prompt, true);
  EXPECT_EQ(call.route, "/apply-template");
  EXPECT_EQ(call.body, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello world\"}]}");

  v1::Engine tgi;
  tgi.set_kind(v1::ENGINE_KIND_TGI);
  tgi.set_api(v1::API_TGI_GENERATE);
  prompt.set_system("Sys");
  EXPECT_EQ(TokenizeRequestFor(tgi, prompt, true).body, "{\"inputs\":\"Sys\\n\\nHello world\"}");
  // TGI: a BOS covers no text (start == stop): whole requests count it, reply lengths do not.
  const std::string tgi_answer =
      R"([{"id":1,"text":"<s>","start":0,"stop":0},{"id":15043,"text":"Hello","start":0,"stop":5},)"
      R"({"id":3186,"text":" world","start":5,"stop":11}])";
  EXPECT_EQ(ParseTokenizeCount(v1::ENGINE_KIND_TGI, "/tokenize", tgi_answer, false), 3u);
  EXPECT_EQ(ParseTokenizeCount(v1::ENGINE_KIND_TGI, "/tokenize", tgi_answer, true), 2u);
  EXPECT_EQ(ParseTokenizeCount(
                v1::ENGINE_KIND_TGI, "/chat_tokenize",
                "{\"tokenize_response\":[{\"id\":1},{\"id\":2}],\"templated_text\":\"x\"}", false),
            2u);
  EXPECT_FALSE(
      ParseTokenizeCount(v1::ENGINE_KIND_VLLM, "/tokenize", "{\"detail\":\"Not Found\"}", false)
          .has_value());
}

TEST(TokenCounterTest, OllamaHasNoTokenizeRoute) {
  v1::Engine ollama;
  ollama.set_kind(v1::ENGINE_KIND_OLLAMA);
  ollama.set_name("ollama");
  EXPECT_EQ(MakeEngineTokenCounter(ollama).status().message(), "Ollama has no tokenize route");
  v1::Prompts prompts;
  std::vector<std::string> notes;
  auto counter = ChooseTokenCounter(prompts, ollama, "", &notes);
  ASSERT_TRUE(counter.ok());
  EXPECT_EQ((*counter)->method(), "words");
  EXPECT_THAT(notes, ::testing::ElementsAre(
                         "no engine tokenize route (Ollama has no tokenize route) and no "
                         "tokenizer.json: counted one token per word; the error against the "
                         "engine's counts is measured below"));
  prompts.set_length_method(v1::PROMPT_LENGTH_METHOD_ENGINE);
  EXPECT_EQ(ChooseTokenCounter(prompts, ollama, "", &notes).status().message(),
            "engine ollama: prompts.length_method engine: Ollama has no tokenize route");
}

// A tokenizer like a real one: a BOS, and long words split every 4 bytes (so a word is not a
// token), counting requests as an engine would.
class FakeSubwordCounter : public TokenCounter {
 public:
  explicit FakeSubwordCounter(uint32_t overhead, uint32_t bytes_per_token = 4)
      : overhead_(overhead), bytes_per_token_(bytes_per_token) {}
  absl::StatusOr<uint32_t> CountRequest(const v1::Prompt& prompt) override {
    ++calls_;
    return overhead_ + Tokens(prompt.text());
  }
  absl::StatusOr<uint32_t> CountText(std::string_view text) override {
    ++calls_;
    return Tokens(text);
  }
  std::string method() const override { return "engine"; }
  std::string source() const override { return "fake"; }
  uint64_t calls() const override { return calls_; }

 private:
  uint32_t Tokens(std::string_view text) const {
    uint32_t n = 0;
    for (absl::string_view word :
         absl::StrSplit(absl::string_view(text.data(), text.size()), ' ', absl::SkipEmpty())) {
      n += static_cast<uint32_t>((word.size() + bytes_per_token_ - 1) / bytes_per_token_);
    }
    return n;
  }
  uint32_t overhead_;
  uint32_t bytes_per_token_;
  uint64_t calls_ = 0;
};

TEST(PromptLengthsTest, SyntheticPromptsAreMadeExactAndSharedPrefixesKept) {
  v1::Prompts prompts = SyntheticPrompts(0, 200);
  auto* lengths = prompts.mutable_synthetic()->mutable_input_tokens();
  lengths->set_kind(v1::TokenLengthDistribution::KIND_UNIFORM);
  lengths->set_min(20);
  lengths->set_max(300);
  prompts.mutable_shared_prefix()->set_prefix_tokens(16);
  prompts.mutable_shared_prefix()->set_groups(2);
  absl::StatusOr<PromptPlan> plan = PlanPrompts(prompts, v1::Generation(), 3, "");
  ASSERT_TRUE(plan.ok());
  FakeSubwordCounter counter(/*overhead=*/1);
  absl::StatusOr<ResolvedPrompts> r = ResolvePromptLengths(*plan, counter, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->report.prompts(), 200u);
  EXPECT_EQ(r->report.prompts_off_target(), 0u);
  EXPECT_GT(r->report.prompts_adjusted(), 150u) << "long words and the BOS change most lengths";
  for (size_t i = 0; i < r->prompts.size(); ++i) {
    EXPECT_EQ(*counter.CountRequest(r->prompts[i]), plan->targets[i]) << i;
    EXPECT_EQ(r->prompts[i].approx_tokens(), plan->targets[i]);
    // The shared prefix (16 words) is untouched: prompt i still starts with its group's.
    std::vector<std::string> before = absl::StrSplit(plan->prompts[i].text(), ' ');
    std::vector<std::string> after = absl::StrSplit(r->prompts[i].text(), ' ');
    before.resize(16);
    after.resize(16);
    EXPECT_EQ(after, before) << i;
  }
}

TEST(PromptLengthsTest, WordsOfSeveralTokensEachAreBisected) {
  // Two bytes per token: most words are 2 to 5 tokens (a small vocabulary), so appending or
  // dropping "one word per missing token" overshoots both ways; bisection still lands exactly.
  v1::Prompts prompts = SyntheticPrompts(0, 50);
  auto* lengths = prompts.mutable_synthetic()->mutable_input_tokens();
  lengths->set_kind(v1::TokenLengthDistribution::KIND_UNIFORM);
  lengths->set_min(50);
  lengths->set_max(600);
  absl::StatusOr<PromptPlan> plan = PlanPrompts(prompts, v1::Generation(), 5, "");
  ASSERT_TRUE(plan.ok());
  FakeSubwordCounter counter(/*overhead=*/1, /*bytes_per_token=*/2);
  absl::StatusOr<ResolvedPrompts> r = ResolvePromptLengths(*plan, counter, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->report.prompts_off_target(), 0u);
  for (size_t i = 0; i < r->prompts.size(); ++i) {
    EXPECT_EQ(*counter.CountRequest(r->prompts[i]), plan->targets[i]) << i;
  }
  // Bounded work: the calls per prompt stay within the fast rounds plus one bisection.
  EXPECT_LT(r->report.tokenize_calls(), 50u * 30 + 257);
}

TEST(PromptLengthsTest, LaterTurnsAreMadeExactAlone) {
  // Multi-turn: each later user message is made exactly its drawn length counted alone (the
  // engine adds the history and the template itself); the first turn as any synthetic prompt.
  v1::Prompts prompts = SyntheticPrompts(0, 20);
  auto* first = prompts.mutable_synthetic()->mutable_input_tokens();
  first->set_kind(v1::TokenLengthDistribution::KIND_FIXED);
  first->set_mean(64);
  prompts.mutable_multi_turn()->set_turns(4);
  auto* user = prompts.mutable_multi_turn()->mutable_user_tokens();
  user->set_kind(v1::TokenLengthDistribution::KIND_UNIFORM);
  user->set_min(10);
  user->set_max(80);
  absl::StatusOr<PromptPlan> plan = PlanPrompts(prompts, v1::Generation(), 9, "");
  ASSERT_TRUE(plan.ok()) << plan.status();
  FakeSubwordCounter counter(/*overhead=*/3);
  absl::StatusOr<ResolvedPrompts> r = ResolvePromptLengths(*plan, counter, 9);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->prompts.size(), 20u);
  size_t changed = 0;
  for (size_t i = 0; i < r->prompts.size(); ++i) {
    const v1::Prompt& before = plan->prompts[i];
    const v1::Prompt& after = r->prompts[i];
    EXPECT_EQ(*counter.CountRequest(after), plan->targets[i]) << i;
    ASSERT_EQ(after.next_turns_size(), 3) << i;
    ASSERT_EQ(after.next_turn_tokens_size(), 3) << i;
    for (int t = 0; t < 3; ++t) {
      const uint32_t target = before.next_turn_tokens(t);
      EXPECT_GE(target, 10u);
      EXPECT_LE(target, 80u);
      EXPECT_EQ(*counter.CountText(after.next_turns(t)), target) << i << " turn " << t;
      EXPECT_EQ(after.next_turn_tokens(t), target);
      if (after.next_turns(t) != before.next_turns(t)) ++changed;
    }
  }
  EXPECT_GT(changed, 30u) << "four-byte tokens change most word-built messages";
  bool noted = false;
  for (const std::string& note : r->report.notes()) {
    if (absl::StrContains(note, "60 later-turn user messages counted alone") &&
        absl::StrContains(note, ", 0 could not be made exact")) {
      noted = true;
    }
  }
  EXPECT_TRUE(noted) << absl::StrJoin(r->report.notes(), " | ");
}

TEST(PromptLengthsTest, ATargetBelowTheRoutesOwnTokensIsOffTargetWithANote) {
  absl::StatusOr<PromptPlan> plan = PlanPrompts(SyntheticPrompts(3, 4), v1::Generation(), 3, "");
  ASSERT_TRUE(plan.ok());
  FakeSubwordCounter counter(/*overhead=*/10);  // a chat template of 10 tokens
  absl::StatusOr<ResolvedPrompts> r = ResolvePromptLengths(*plan, counter, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->report.prompts_off_target(), 4u);
  for (const v1::Prompt& p : r->prompts) {
    EXPECT_EQ(CountWords(p.text()), 1u) << "down to one word";
    EXPECT_EQ(p.approx_tokens(), *counter.CountRequest(p)) << "the requested length is counted";
  }
  EXPECT_THAT(r->report.notes(),
              ::testing::ElementsAre(
                  "4 synthetic prompts could not be made exact (4 of them because the route's own "
                  "tokens -- chat template, special tokens, system prompt -- leave no room for the "
                  "target): they keep their closest length"));
}

TEST(PromptLengthsTest, DatasetPromptsAndRepliesAreCounted) {
  const std::string path =
      Write("count.jsonl",
            "{\"conversations\":[{\"from\":\"human\",\"value\":\"tokenization "
            "matters\"},{\"from\":\"gpt\",\"value\":\"absolutely right\"}]}\n");
  v1::Prompts prompts;
  prompts.mutable_dataset()->set_path(path);
  v1::Generation generation;
  generation.set_output_tokens_from_dataset(true);
  absl::StatusOr<PromptPlan> plan = PlanPrompts(prompts, generation, 1, "");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->prompts[0].max_tokens(), 2u) << "words before counting";
  FakeSubwordCounter counter(1);
  absl::StatusOr<ResolvedPrompts> r = ResolvePromptLengths(*plan, counter, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompts[0].text(), "tokenization matters") << "dataset text is never changed";
  EXPECT_EQ(r->prompts[0].approx_tokens(), 1u + 3u + 2u);
  EXPECT_EQ(r->prompts[0].max_tokens(), 3u + 2u) << "\"absolutely right\": 3 + 2 tokens";
}

TEST(LengthStatsTest, RequestedAgainstReported) {
  LengthStats stats;
  auto record = [](uint32_t sent, std::optional<uint32_t> reported, uint32_t max_tokens,
                   uint32_t out) {
    v1::RequestRecord r;
    r.set_prompt_tokens_sent(sent);
    if (reported) r.set_input_tokens(*reported);
    r.set_max_tokens_sent(max_tokens);
    r.set_output_tokens(out);
    return r;
  };
  stats.Add(record(100, 100, 10, 10));
  stats.Add(record(100, 110, 20, 5));
  stats.Add(record(200, 190, 30, 30));
  stats.Add(record(50, std::nullopt, 40, 40));
  v1::RequestRecord failed = record(999, 1, 1, 0);
  failed.set_error_class(v1::ERROR_CLASS_HTTP_5XX);
  stats.Add(failed);
  v1::RequestRecord warmup = record(999, 1, 1, 0);
  warmup.set_warmup(true);
  stats.Add(warmup);
  // A later turn's engine count includes the history: requested, not compared.
  v1::RequestRecord later = record(30, 900, 50, 50);
  later.set_session_id(1);
  later.set_turn_index(2);
  stats.Add(later);
  v1::RequestRecord first = record(100, 100, 10, 10);
  first.set_session_id(1);
  first.set_turn_index(0);
  stats.Add(first);
  v1::LengthReport report;
  stats.Fill(&report);
  EXPECT_EQ(report.input_compared(), 4u);
  EXPECT_EQ(report.input_exact(), 2u);
  EXPECT_EQ(report.input_requested().count(), 5u);
  EXPECT_DOUBLE_EQ(report.input_mean_error(), 0);
  EXPECT_DOUBLE_EQ(report.input_mean_abs_error_pct(), (0 + 10 + 5 + 0) / 4.0);
  EXPECT_DOUBLE_EQ(report.input_max_abs_error(), 10);
  EXPECT_EQ(report.output_compared(), 6u);
  EXPECT_EQ(report.output_reached(), 5u);
  EXPECT_DOUBLE_EQ(report.output_requested().mean(), (10 + 20 + 30 + 40 + 50 + 10) / 6.0);
}

// ---- DCGM ------------------------------------------------------------------------------------

std::string DcgmFixture(int scrape) {
  return ReadAll(
      absl::StrCat(LLMBENCH_SOURCE_DIR, "/tests/fixtures/dcgm/h100x2-scrape", scrape, ".prom"));
}

const v1::GaugeSeries* Metric(const v1::DcgmGpu& gpu, const std::string& name) {
  for (const v1::GaugeSeries& s : gpu.metrics()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

TEST(GpuMetricsTest, RecordedExporterTextBecomesSeriesPerGpu) {
  GpuMetricsAccumulator acc("http://gpu:9400/metrics", 2);
  acc.AddScrape(1'000'000'000, DcgmFixture(1));
  acc.AddScrape(3'000'000'000, absl::UnavailableError("GET http://gpu:9400/metrics: HTTP 503"));
  acc.AddScrape(5'000'000'000, DcgmFixture(2));
  v1::GpuMetricsTelemetry t = acc.Result();
  EXPECT_EQ(t.scrapes(), 2u);
  EXPECT_EQ(t.scrape_errors(), 1u);
  EXPECT_DOUBLE_EQ(t.window_s(), 4);
  EXPECT_THAT(t.notes(),
              ::testing::ElementsAre(
                  "scrape failed: GET http://gpu:9400/metrics: HTTP 503",
                  "4 values were DCGM blanks (a field the GPU does not support): left out"));
  ASSERT_EQ(t.gpus_size(), 2);
  const v1::DcgmGpu& busy = t.gpus(0);
  EXPECT_EQ(busy.gpu(), "0");
  EXPECT_EQ(busy.uuid(), "GPU-927d7444-b45a-7c49-8402-5e686e46a026");
  EXPECT_EQ(busy.model_name(), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(busy.hostname(), "gpu-node-7");
  const v1::GaugeSeries* util = Metric(busy, "gpu_util_pct");
  ASSERT_NE(util, nullptr);
  EXPECT_EQ(util->metric(), "DCGM_FI_DEV_GPU_UTIL");
  EXPECT_THAT(util->t_s(), ::testing::ElementsAre(0, 4));
  EXPECT_THAT(util->values(), ::testing::ElementsAre(87, 99));
  EXPECT_DOUBLE_EQ(util->mean(), 93);
  EXPECT_DOUBLE_EQ(util->max(), 99);
  EXPECT_DOUBLE_EQ(Metric(busy, "fb_used_mib")->max(), 76601);
  EXPECT_DOUBLE_EQ(Metric(busy, "power_w")->mean(), (512.25 + 618.75) / 2);
  // Energy: mJ since boot becomes J since the first scrape.
  EXPECT_THAT(Metric(busy, "energy_j")->values(), ::testing::ElementsAre(0, 1025));
  EXPECT_EQ(Metric(busy, "memory_temp_c"), nullptr) << "a DCGM blank is not a temperature";
  EXPECT_DOUBLE_EQ(Metric(t.gpus(1), "gpu_util_pct")->max(), 2);

  v1::RunResult result;
  *result.add_gpu_metrics() = t;
  const std::string csv = GpuMetricsCsv(result);
  EXPECT_THAT(csv,
              ::testing::StartsWith("url,hostname,gpu,uuid,model_name,name,metric,t_s,value\n"));
  EXPECT_THAT(
      csv,
      HasSubstr("http://gpu:9400/metrics,gpu-node-7,0,GPU-927d7444-b45a-7c49-8402-"
                "5e686e46a026,NVIDIA H100 80GB HBM3,gpu_util_pct,DCGM_FI_DEV_GPU_UTIL,4,99\n"));
  EXPECT_THAT(
      WorkloadSummaryLines(result),
      HasSubstr("GPU gpu-node-7 0 NVIDIA H100 80GB HBM3: util mean 93 max 99 %; memory used "
                "mean 7.654e+04 max 7.66e+04 MiB; power mean 565.5 max 618.8 W; energy 1025 J "
                "(2 scrapes of http://gpu:9400/metrics)\n"));
}

TEST(GpuMetricsTest, AnAnswerWithoutDcgmMetricsSaysSo) {
  GpuMetricsAccumulator acc("http://x/metrics", 2);
  acc.AddScrape(1, std::string("vllm:num_requests_running 3\n"));
  EXPECT_THAT(
      acc.Result().notes(),
      ::testing::ElementsAre("no DCGM_FI_* metrics in the answer (is this a DCGM exporter?)"));
  acc.AddScrape(2, std::string("not { prometheus"));
  EXPECT_EQ(acc.Result().scrape_errors(), 1u);
}

// ---- requests.jsonl and console lines --------------------------------------------------------

TEST(TextExportTest, OneLinePerRequest) {
  v1::RequestRecord r;
  r.set_request_id(17);
  r.set_engine("vllm");
  r.set_worker_id("w1");
  r.set_prompt_index(3);
  r.set_max_tokens_sent(4);
  r.set_input_tokens(5);
  r.set_output_tokens(4);
  r.set_reply_text(" lorem \"ipsum\"\n");
  v1::Prompt p;
  p.set_system("sys");
  p.set_text("a b c d e");
  EXPECT_EQ(TextExportLine(r, &p),
            "{\"request_id\":17,\"engine\":\"vllm\",\"worker_id\":\"w1\",\"prompt_index\":3,"
            "\"warmup\":false,\"error_class\":\"none\",\"max_tokens\":4,\"input_tokens\":5,"
            "\"output_tokens\":4,\"system\":\"sys\",\"prompt\":\"a b c d e\",\"reply\":\" lorem "
            "\\\"ipsum\\\"\\n\",\"reply_truncated\":false}");
  v1::Scenario s;
  EXPECT_EQ(ReplyTextBytes(s), 0u);
  s.mutable_outputs()->set_text(true);
  EXPECT_EQ(ReplyTextBytes(s), 65536u);
  s.mutable_outputs()->set_text_max_bytes(10);
  EXPECT_EQ(ReplyTextBytes(s), 10u);
}

TEST(WorkloadSummaryTest, LabelTagsAndLengths) {
  v1::RunResult result;
  EXPECT_EQ(WorkloadSummaryLines(result), "") << "older results print as before";
  result.mutable_scenario()->set_label("nightly");
  (*result.mutable_scenario()->mutable_tags())["gpu"] = "h100";
  (*result.mutable_scenario()->mutable_tags())["commit"] = "abc";
  v1::EngineResult* e = result.add_engines();
  e->set_engine("vllm");
  v1::LengthReport* l = e->mutable_lengths();
  l->set_method("engine");
  l->set_source("http://h:8000/tokenize");
  l->mutable_input_requested()->set_mean(512);
  l->set_input_compared(10);
  l->set_input_exact(10);
  l->set_input_mean_error(0);
  l->set_output_compared(10);
  l->mutable_output_requested()->set_mean(130.5);
  l->mutable_output_requested()->set_min(64);
  l->mutable_output_requested()->set_max(256);
  l->set_output_reached(9);
  EXPECT_EQ(WorkloadSummaryLines(result),
            "run: label \"nightly\" tags commit=abc gpu=h100\n"
            "input tokens (vllm): counted by engine http://h:8000/tokenize; requested mean 512.0; "
            "engine-reported equal in 10 of 10 (mean error +0.00 tokens, mean |error| 0.00%, max "
            "|error| 0)\n"
            "output tokens (vllm): max_tokens per request mean 130.5 (min 64, max 256); 9 of 10 "
            "reached it\n");
}

TEST(DiffTagsTest, BothSidesLabelsAndTagsAreShown) {
  v1::RunResult base, candidate;
  base.set_run_id("b");
  candidate.set_run_id("c");
  base.mutable_scenario()->set_label("before");
  (*base.mutable_scenario()->mutable_tags())["commit"] = "abc";
  (*candidate.mutable_scenario()->mutable_tags())["commit"] = "def";
  (*candidate.mutable_scenario()->mutable_tags())["gpu"] = "h100";
  DiffReport report = DiffResults(base, nullptr, candidate, nullptr, DiffOptions());
  const std::string table = DiffConsoleTable(report);
  EXPECT_THAT(table,
              HasSubstr("base:      - (run b, unknown date, label before, tags commit=abc)\n"));
  EXPECT_THAT(table, HasSubstr("candidate: - (run c, unknown date, tags commit=def gpu=h100)\n"));
  const std::string html = DiffHtml(report);
  EXPECT_THAT(html, HasSubstr("\"label\":\"before\",\"tags\":{\"commit\":\"abc\"}"));
  EXPECT_THAT(html, HasSubstr("\"label\":\"\",\"tags\":{\"commit\":\"def\",\"gpu\":\"h100\"}"));
}

// ---- scenario checks and validate's plan ------------------------------------------------------

absl::Status Parse(const std::string& yaml) {
  return ParseScenarioYaml(yaml, "s.yaml", Dir()).status();
}

TEST(WorkloadScenarioTest, NewFieldsAreChecked) {
  const std::string engine = "engines: [{kind: vllm, base_url: http://h:1, model: m}]\n";
  EXPECT_EQ(
      std::string(
          Parse(engine + "generation:\n  output_tokens: {kind: lognormal, mean: 128, sigma: 12}\n")
              .message()),
      "s.yaml:3:47: generation.output_tokens.sigma: must be between 0 and 10, got 12");
  EXPECT_EQ(
      std::string(Parse(engine + "generation: {output_tokens_from_dataset: true}\n").message()),
      "s.yaml:2:14: generation.output_tokens_from_dataset: needs prompts.dataset");
  EXPECT_EQ(std::string(Parse(engine + "generation: {reply_text_bytes: 5}\n").message()),
            "s.yaml:2:14: generation.reply_text_bytes: set by the coordinator from outputs.text, "
            "not in a scenario");
  EXPECT_EQ(std::string(Parse(engine + "telemetry: {gpu_metrics: [\"gpu:9400\"]}\n").message()),
            "s.yaml:2:27: telemetry.gpu_metrics[0]: must be an http:// or https:// URL without "
            "spaces, got \"gpu:9400\"");
  EXPECT_EQ(std::string(Parse(engine + "tags: {\"a b\": x}\n").message()),
            "s.yaml:2:1: tags.a b: a tag name is 1 to 64 of A-Z a-z 0-9 _ . -, got \"a b\"");
  EXPECT_EQ(std::string(Parse(engine + "outputs: {text: true, text_max_bytes: 0}\n").message()),
            "s.yaml:2:23: outputs.text_max_bytes: must be between 1 and 1048576, got 0");
  EXPECT_EQ(std::string(Parse(engine + "prompts: {length_method: tokenizer}\n").message()),
            "s.yaml:2:11: prompts.length_method: tokenizer needs prompts.tokenizer (a "
            "tokenizer.json)");
  EXPECT_EQ(std::string(Parse(engine + "prompts: {tokenizer: missing.json}\n").message()),
            "s.yaml:2:11: prompts.tokenizer: cannot read \"missing.json\": No such file or "
            "directory");
  absl::StatusOr<v1::Scenario> ok = ParseScenarioYaml(
      engine +
          "label: nightly\ntags: {gpu: h100}\ngeneration:\n  output_tokens: {kind: uniform, min: "
          "8, max: 16}\noutputs: {text: true}\ntelemetry: {gpu_metrics: [http://g:9400/metrics]}\n",
      "s.yaml", Dir());
  ASSERT_TRUE(ok.ok()) << ok.status();
  // The scenario as run round-trips with the new fields.
  absl::StatusOr<v1::Scenario> again = ParseScenarioYaml(ScenarioToYaml(*ok), "again.yaml", Dir());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->label(), "nightly");
  EXPECT_EQ(again->tags().at("gpu"), "h100");
  EXPECT_EQ(again->generation().output_tokens().max(), 16u);
  EXPECT_TRUE(again->outputs().text());
  EXPECT_EQ(again->telemetry().gpu_metrics(0), "http://g:9400/metrics");
}

TEST(ValidatePlanTest, ShardsAndTheScheduleOfARateRun) {
  absl::StatusOr<v1::Scenario> s = ParseScenarioYaml(
      "engines: [{name: a, kind: vllm, base_url: http://h:1, model: m}]\n"
      "prompts: {synthetic: {input_tokens: {kind: fixed, mean: 10}, count: 4}}\n"
      "generation: {max_tokens: 32, output_tokens: {kind: fixed, mean: 20}}\n"
      "load: {rate: {rps: 4}, requests: 30}\n",
      "v.yaml", Dir());
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<std::string> plan = DescribePlan(*s, Dir(), 3, 4);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(*plan, HasSubstr("4 synthetic prompts; input tokens (words (one token per word)): "
                               "min 10, mean 10.0, max 10\n"));
  EXPECT_THAT(*plan,
              HasSubstr("output tokens per request (max_tokens): min 20, mean 20.0, max 20\n"));
  EXPECT_THAT(*plan, HasSubstr("# shards of engine a (http://h:1) over 3 workers\n"));
  // 30 requests at 4 rps over 3 workers: 10 each at 4/3 rps; constant spacing from t = 0.
  EXPECT_THAT(*plan, HasSubstr("    0-1   s         6 requests\n"));
  EXPECT_THAT(*plan, HasSubstr("    1-2   s         3 requests\n"));
  EXPECT_THAT(*plan,
              HasSubstr("total: 30 requests scheduled, the last at 6.75 s after the start\n"));
  EXPECT_THAT(*plan, HasSubstr("planned: 30 measured requests; shards hold 30 measured ids\n"));
}

}  // namespace
}  // namespace llmbench::coordinator
