#include "coordinator/prompts.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

using llmbench::v1::Prompt;
using llmbench::v1::Prompts;
using llmbench::v1::TokenLengthDistribution;

std::string TestDir() {
  std::string dir = testing::TempDir() + "/prompts_test";
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

void WriteFile(const std::string& name, const std::string& content) {
  std::ofstream out(TestDir() + "/" + name, std::ios::binary);
  out << content;
}

Prompts Synthetic(TokenLengthDistribution::Kind kind, uint32_t mean, uint32_t min, uint32_t max,
                  double stddev, uint32_t count) {
  Prompts prompts;
  auto* lengths = prompts.mutable_synthetic()->mutable_input_tokens();
  lengths->set_kind(kind);
  lengths->set_mean(mean);
  lengths->set_min(min);
  lengths->set_max(max);
  lengths->set_stddev(stddev);
  prompts.mutable_synthetic()->set_count(count);
  return prompts;
}

TEST(CountWordsTest, CountsWhitespaceSeparatedWords) {
  EXPECT_EQ(CountWords(""), 0u);
  EXPECT_EQ(CountWords("   "), 0u);
  EXPECT_EQ(CountWords("one"), 1u);
  EXPECT_EQ(CountWords("  one two\tthree\nfour  "), 4u);
}

TEST(BuildPromptsTest, DefaultsAreThousandPromptsOf128Words) {
  auto prompts = BuildPrompts(Prompts(), 42, "");
  ASSERT_TRUE(prompts.ok()) << prompts.status();
  ASSERT_EQ(prompts->size(), 1000u);
  for (const Prompt& p : *prompts) {
    EXPECT_EQ(CountWords(p.text()), 128u);
    EXPECT_EQ(p.approx_tokens(), 128u);
    EXPECT_EQ(p.system(), "");
  }
}

TEST(BuildPromptsTest, FixedLengthPromptsAreDistinctAndDeterministic) {
  const Prompts spec = Synthetic(TokenLengthDistribution::KIND_FIXED, 32, 0, 0, 0, 200);
  auto a = BuildPrompts(spec, 7, "");
  auto b = BuildPrompts(spec, 7, "");
  auto c = BuildPrompts(spec, 8, "");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  std::set<std::string> distinct;
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].text(), (*b)[i].text());
    EXPECT_EQ((*a)[i].approx_tokens(), 32u);
    distinct.insert((*a)[i].text());
  }
  EXPECT_EQ(distinct.size(), 200u);
  EXPECT_NE((*a)[0].text(), (*c)[0].text());
}

TEST(BuildPromptsTest, UniformLengthsStayInRangeAndCoverIt) {
  auto prompts = BuildPrompts(Synthetic(TokenLengthDistribution::KIND_UNIFORM, 0, 3, 6, 0, 400),
                              1, "");
  ASSERT_TRUE(prompts.ok());
  std::set<uint32_t> seen;
  for (const Prompt& p : *prompts) {
    EXPECT_GE(p.approx_tokens(), 3u);
    EXPECT_LE(p.approx_tokens(), 6u);
    EXPECT_EQ(CountWords(p.text()), p.approx_tokens());
    seen.insert(p.approx_tokens());
  }
  // 400 draws over 4 values: each value is missed with probability (3/4)^400 ~ 1e-50.
  EXPECT_EQ(seen, (std::set<uint32_t>{3, 4, 5, 6}));
}

TEST(BuildPromptsTest, NormalLengthsAreClampedAndCentred) {
  auto prompts = BuildPrompts(
      Synthetic(TokenLengthDistribution::KIND_NORMAL, 100, 90, 110, 20, 2000), 3, "");
  ASSERT_TRUE(prompts.ok());
  double sum = 0;
  uint32_t at_low = 0, at_high = 0;
  for (const Prompt& p : *prompts) {
    EXPECT_GE(p.approx_tokens(), 90u);
    EXPECT_LE(p.approx_tokens(), 110u);
    at_low += p.approx_tokens() == 90;
    at_high += p.approx_tokens() == 110;
    sum += p.approx_tokens();
  }
  // Symmetric clamp around the mean: the sample mean of 2000 draws is within ±2 of 100
  // (its standard error is below 0.4), and about 31% of draws fall beyond each bound.
  EXPECT_NEAR(sum / 2000, 100, 2);
  EXPECT_GT(at_low, 400u);
  EXPECT_GT(at_high, 400u);
}

TEST(BuildPromptsTest, NormalWithZeroStddevIsTheMean) {
  auto prompts =
      BuildPrompts(Synthetic(TokenLengthDistribution::KIND_NORMAL, 17, 0, 0, 0, 10), 3, "");
  ASSERT_TRUE(prompts.ok());
  for (const Prompt& p : *prompts) EXPECT_EQ(p.approx_tokens(), 17u);
}

TEST(BuildPromptsTest, SharedPrefixGroups) {
  Prompts spec = Synthetic(TokenLengthDistribution::KIND_FIXED, 5, 0, 0, 0, 9);
  spec.mutable_shared_prefix()->set_prefix_tokens(10);
  spec.mutable_shared_prefix()->set_groups(3);
  spec.set_system_prompt("be brief");
  auto prompts = BuildPrompts(spec, 11, "");
  ASSERT_TRUE(prompts.ok());
  ASSERT_EQ(prompts->size(), 9u);
  auto prefix_of = [](const std::string& text) {
    size_t pos = 0;
    for (int w = 0; w < 10; ++w) pos = text.find(' ', pos) + 1;
    return text.substr(0, pos - 1);
  };
  std::set<std::string> prefixes;
  for (size_t i = 0; i < 9; ++i) {
    const Prompt& p = (*prompts)[i];
    EXPECT_EQ(p.approx_tokens(), 15u);
    EXPECT_EQ(p.system(), "be brief");
    EXPECT_EQ(prefix_of(p.text()), prefix_of((*prompts)[i % 3].text())) << i;
    prefixes.insert(prefix_of(p.text()));
  }
  EXPECT_EQ(prefixes.size(), 3u);
}

TEST(BuildPromptsTest, ShareGptJsonTakesTheFirstHumanTurn) {
  WriteFile("share.json", R"([
    {"conversations": [{"from": "system", "value": "sys"},
                       {"from": "human", "value": "  first question here  "},
                       {"from": "human", "value": "second"}]},
    {"conversations": [{"from": "gpt", "value": "no human"}]},
    {"conversations": []},
    {"conversations": [{"role": "user", "content": "openai style"}]},
    {"conversations": [{"from": "human", "value": "ab"}]}
  ])");
  Prompts spec;
  spec.mutable_dataset()->set_path("share.json");
  auto prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_TRUE(prompts.ok()) << prompts.status();
  ASSERT_EQ(prompts->size(), 3u);
  EXPECT_EQ((*prompts)[0].text(), "first question here");
  EXPECT_EQ((*prompts)[0].approx_tokens(), 3u);
  EXPECT_EQ((*prompts)[1].text(), "openai style");
  EXPECT_EQ((*prompts)[2].text(), "ab");

  spec.mutable_dataset()->set_min_input_chars(3);
  spec.mutable_dataset()->set_max_prompts(1);
  prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_TRUE(prompts.ok());
  ASSERT_EQ(prompts->size(), 1u);
  EXPECT_EQ((*prompts)[0].text(), "first question here");
}

TEST(BuildPromptsTest, JsonlAcceptsPromptTextAndShareGptLines) {
  WriteFile("mixed.jsonl",
            "{\"prompt\": \"alpha beta\"}\n"
            "\n"
            "{\"text\": \"gamma\"}\r\n"
            "{\"conversations\": [{\"from\": \"human\", \"value\": \"delta epsilon zeta\"}]}\n");
  Prompts spec;
  spec.mutable_dataset()->set_path("mixed.jsonl");
  spec.mutable_shared_prefix()->set_prefix_tokens(2);
  auto prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_TRUE(prompts.ok()) << prompts.status();
  ASSERT_EQ(prompts->size(), 3u);
  EXPECT_TRUE(absl::EndsWith((*prompts)[0].text(), " alpha beta")) << (*prompts)[0].text();
  EXPECT_TRUE(absl::EndsWith((*prompts)[1].text(), " gamma"));
  EXPECT_TRUE(absl::EndsWith((*prompts)[2].text(), " delta epsilon zeta"));
  EXPECT_EQ((*prompts)[0].approx_tokens(), 4u);
  EXPECT_EQ((*prompts)[2].approx_tokens(), 5u);
}

struct BadDataset {
  std::string name;
  std::string file;
  std::string content;
  std::string message;
};

class BadDatasetTest : public testing::TestWithParam<BadDataset> {};

TEST_P(BadDatasetTest, FailsWithExactMessage) {
  const BadDataset& bad = GetParam();
  WriteFile(bad.file, bad.content);
  Prompts spec;
  spec.mutable_dataset()->set_path(bad.file);
  auto prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_FALSE(prompts.ok());
  EXPECT_EQ(prompts.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(prompts.status().message()), bad.message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadDatasetTest,
    testing::Values(
        BadDataset{"JsonlBadLine", "bad1.jsonl", "{\"prompt\": \"ok\"}\n\n{\"prompt\": \n",
                   "bad1.jsonl:3: invalid JSON: The JSON document has an improper structure: "
                   "missing or superfluous commas, braces, missing keys, etc."},
        BadDataset{"JsonlNoKnownField", "bad2.jsonl", "{\"prompt\": \"ok\"}\n{\"q\": \"x\"}\n",
                   "bad2.jsonl:2: expected a \"conversations\", \"prompt\" or \"text\" field"},
        BadDataset{"JsonlPromptNotString", "bad3.jsonl", "{\"prompt\": 5}\n",
                   "bad3.jsonl:1: \"prompt\" must be a string, got a number"},
        BadDataset{"JsonlNotObject", "bad4.jsonl", "\"just a string\"\n",
                   "bad4.jsonl:1: expected a JSON object, got a string"},
        BadDataset{"ArrayEntryNotObject", "bad5.json", "[{\"text\": \"a\"}, 3]",
                   "bad5.json: entry 1: expected a JSON object, got a number"},
        BadDataset{"ConversationsNotList", "bad6.json", "[{\"conversations\": {}}]",
                   "bad6.json: entry 0: \"conversations\" must be a list, got an object"},
        BadDataset{"HumanTurnWithoutValue", "bad7.json",
                   "[{\"conversations\": [{\"from\": \"human\", \"value\": 1}]}]",
                   "bad7.json: entry 0: conversations[0] has no string \"value\" (or "
                   "\"content\")"},
        BadDataset{"TruncatedArray", "bad8.json", "[{\"text\": \"a\"}, ",
                   "bad8.json: invalid JSON: The JSON document has an improper structure: "
                   "missing or superfluous commas, braces, missing keys, etc."},
        BadDataset{"NoPrompts", "bad9.json", "[{\"conversations\": []}]",
                   "bad9.json: no prompts found (1 entries; entries without a human turn, empty "
                   "ones and ones shorter than min_input_chars are skipped)"},
        BadDataset{"InvalidUtf8", "bad10.jsonl", "{\"prompt\": \"\xff\"}\n",
                   "bad10.jsonl:1: invalid JSON: The input is not valid UTF-8"},
        BadDataset{"EmptyFile", "bad11.jsonl", "",
                   "bad11.jsonl: no prompts found (0 entries; entries without a human turn, "
                   "empty ones and ones shorter than min_input_chars are skipped)"}),
    [](const testing::TestParamInfo<BadDataset>& param_info) { return param_info.param.name; });

TEST(BuildPromptsTest, MissingDatasetNamesTheFile) {
  Prompts spec;
  spec.mutable_dataset()->set_path("nope.json");
  auto prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_FALSE(prompts.ok());
  EXPECT_EQ(std::string(prompts.status().message()),
            "nope.json: cannot read: No such file or directory");
}

}  // namespace
// Before: /dev/zero was read until memory ran out (3.9 GB seen) and a FIFO without a writer hung
// the coordinator in open().
TEST(BuildPromptsTest, DatasetMustBeARegularFileWithinTheSizeCap) {
  Prompts spec;
  spec.mutable_dataset()->set_path("/dev/zero");
  auto prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_FALSE(prompts.ok());
  EXPECT_EQ(std::string(prompts.status().message()),
            "/dev/zero: cannot read: not a regular file (a character device): a dataset must be "
            "a file");
  const std::string fifo = TestDir() + "/dataset.fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  spec.mutable_dataset()->set_path("dataset.fifo");
  prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_FALSE(prompts.ok());
  EXPECT_EQ(std::string(prompts.status().message()),
            "dataset.fifo: cannot read: not a regular file (a FIFO): a dataset must be a file");
  // A sparse file one byte over the cap: refused from its size, before reading.
  const std::string big = TestDir() + "/big.jsonl";
  { std::ofstream(big, std::ios::binary) << "x"; }
  ASSERT_EQ(::truncate(big.c_str(), static_cast<off_t>(kMaxDatasetBytes + 1)), 0);
  spec.mutable_dataset()->set_path("big.jsonl");
  prompts = BuildPrompts(spec, 1, TestDir());
  ASSERT_FALSE(prompts.ok());
  EXPECT_EQ(std::string(prompts.status().message()),
            "big.jsonl: cannot read: 1073741825 bytes, over the 1 GiB limit for a dataset file");
  ::unlink(big.c_str());
  ::unlink(fifo.c_str());
}

}  // namespace llmbench::coordinator
