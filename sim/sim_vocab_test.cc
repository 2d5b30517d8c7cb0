// The simulator's prompt token rules (`llmbench-sim --tokenizer`): words, and subword4 (a word is
// ceil(bytes / 4) tokens), with the byte spans TGI's /tokenize answers carry.
#include "sim/sim_vocab.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace llmbench::sim {
namespace {

TEST(SimTokenRuleTest, WordsAndSubword4) {
  EXPECT_EQ(CountTokens("", TokenRule::kWords), 0);
  EXPECT_EQ(CountTokens("  the information\tis\n", TokenRule::kWords), 3);
  EXPECT_EQ(CountTokens("  the information\tis\n", TokenRule::kSubword4), 1 + 3 + 1);
  EXPECT_EQ(CountTokens("abcd abcde", TokenRule::kSubword4), 1 + 2);
  const std::vector<SimToken> tokens = Tokenize("go information", TokenRule::kSubword4);
  ASSERT_EQ(tokens.size(), 4u);
  const std::vector<std::pair<size_t, size_t>> spans = {{0, 2}, {3, 4}, {7, 4}, {11, 3}};
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(tokens[i].start, spans[i].first) << i;
    EXPECT_EQ(tokens[i].length, spans[i].second) << i;
  }
  // The words rule's ids are WordTokenIds' (what /tokenize answered before the rule existed).
  const std::vector<SimToken> words = Tokenize("hello world", TokenRule::kWords);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0].id, WordTokenIds("hello").front());
  EXPECT_EQ(words[1].id, WordTokenIds("world").front());
}

}  // namespace
}  // namespace llmbench::sim
