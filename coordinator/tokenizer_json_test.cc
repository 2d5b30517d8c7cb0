// TokenizerJson against the real HuggingFace `tokenizers` library: the fixtures in
// tests/fixtures/tokenizers/ are tokenizers that library trained (GPT-2, Llama-3, Llama-2 and
// Mistral shaped BPE, BERT WordPiece) and the ids it gave for each test text
// (scripts/make-tokenizer-fixtures.py); every id must match.
#include "coordinator/tokenizer_json.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace llmbench::coordinator {
namespace {

std::string FixturePath(const std::string& name) {
  return std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizers/" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<uint32_t> Ids(simdjson::dom::element list) {
  std::vector<uint32_t> ids;
  simdjson::dom::array array;
  EXPECT_EQ(list.get_array().get(array), simdjson::SUCCESS);
  for (simdjson::dom::element id : array) {
    uint64_t value = 0;
    EXPECT_EQ(id.get_uint64().get(value), simdjson::SUCCESS);
    ids.push_back(static_cast<uint32_t>(value));
  }
  return ids;
}

class TokenizerJsonVectorsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerJsonVectorsTest, MatchesTheRealLibraryIdForId) {
  auto tokenizer = TokenizerJson::Load(FixturePath(GetParam() + ".json"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  simdjson::dom::parser parser;
  simdjson::dom::element vectors;
  const simdjson::padded_string json(ReadAll(FixturePath(GetParam() + ".vectors.json")));
  ASSERT_EQ(parser.parse(json).get(vectors), simdjson::SUCCESS);
  simdjson::dom::array list;
  ASSERT_EQ(vectors["cases"].get_array().get(list), simdjson::SUCCESS);
  size_t cases = 0;
  for (simdjson::dom::element c : list) {
    std::string_view text_view;
    ASSERT_EQ(c["text"].get_string().get(text_view), simdjson::SUCCESS);
    const std::string text(text_view);
    SCOPED_TRACE("text: \"" + text + "\"");
    EXPECT_EQ((*tokenizer)->Encode(text, false), Ids(c["ids"]));
    EXPECT_EQ((*tokenizer)->Encode(text, true), Ids(c["ids_special"]));
    EXPECT_EQ((*tokenizer)->Count(text, true), Ids(c["ids_special"]).size());
    ++cases;
  }
  EXPECT_EQ(cases, 17u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerJsonVectorsTest,
                         ::testing::Values("gpt2-bpe", "llama3-bpe", "llama2-sp-bpe",
                                           "mistral-metaspace-bpe", "bert-wordpiece"));

TEST(TokenizerJsonTest, SpecialTokensAddedPerShape) {
  const std::pair<const char*, uint32_t> expected[] = {
      {"gpt2-bpe", 0}, {"llama3-bpe", 1}, {"llama2-sp-bpe", 1}, {"bert-wordpiece", 2}};
  for (const auto& [name, specials] : expected) {
    auto tokenizer = TokenizerJson::Load(FixturePath(std::string(name) + ".json"));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    EXPECT_EQ((*tokenizer)->SpecialTokensAdded(), specials) << name;
  }
}

TEST(TokenizerJsonTest, RefusesWhatItCannotRunWithTheReason) {
  EXPECT_EQ(
      TokenizerJson::Parse("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0.0]]}}", "u.json")
          .status()
          .message(),
      "u.json: model type \"Unigram\" is not supported (BPE and WordPiece are)");
  EXPECT_EQ(TokenizerJson::Parse("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                                 "\"normalizer\":{\"type\":\"Precompiled\"}}",
                                 "p.json")
                .status()
                .message(),
            "p.json: normalizer \"Precompiled\" is not supported");
  EXPECT_EQ(TokenizerJson::Parse("[1,2", "bad.json").status().message(),
            "bad.json: invalid JSON: The JSON document has an improper structure: missing or "
            "superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(TokenizerJson::Parse("{}", "empty.json").status().message(),
            "empty.json: no \"model\": not a tokenizer.json");
  EXPECT_EQ(TokenizerJson::Load("/nonexistent/tokenizer.json").status().message(),
            "/nonexistent/tokenizer.json: cannot read: No such file or directory");
}

TEST(TokenizerJsonTest, LongWordsMergeInLogLinearTime) {
  // A SentencePiece-style tokenizer has no pre-tokenizer that splits on spaces: the whole text
  // is one word for BPE. 20 000 characters must still encode at once (a quadratic merge would
  // take minutes), into more tokens than words and fewer than characters.
  auto tokenizer = TokenizerJson::Load(FixturePath("llama2-sp-bpe.json"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "the quick brown fox ";
  const uint32_t count = (*tokenizer)->Count(text, false);
  EXPECT_GT(count, 1000u);
  EXPECT_LT(count, 20000u);
}

}  // namespace
}  // namespace llmbench::coordinator
