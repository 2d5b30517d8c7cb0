#include "common/text_safety.h"

#include "gtest/gtest.h"

namespace llmbench {
namespace {

TEST(EscapeControlCharactersTest, EscapesC0DelAndC1AndKeepsTheRest) {
  EXPECT_EQ(EscapeControlCharacters("plain text, ünïcödé €"), "plain text, ünïcödé €");
  EXPECT_EQ(EscapeControlCharacters("\x1b[2J\x1b]0;pwned\x07"), "\\x1b[2J\\x1b]0;pwned\\x07");
  EXPECT_EQ(EscapeControlCharacters("a\r\nb\tc\x7f"), "a\\x0d\\x0ab\\x09c\\x7f");
  EXPECT_EQ(EscapeControlCharacters(std::string_view("nul\0end", 7)), "nul\\x00end");
  // U+009B (CSI as one C1 character) and U+0085; U+00A0 and U+00E9 stay.
  EXPECT_EQ(EscapeControlCharacters("\xc2\x9b" "31m \xc2\x85 \xc2\xa0 \xc3\xa9"),
            "\\u009b31m \\u0085 \xc2\xa0 \xc3\xa9");
  EXPECT_EQ(EscapeControlCharacters("cut \xc2"), "cut \xc2");
}

TEST(RedactSecretTest, ReplacesEveryOccurrence) {
  std::string text = "Incorrect API key provided: sk-123. sk-123sk-123!";
  EXPECT_TRUE(RedactSecret(&text, "sk-123"));
  EXPECT_EQ(text, "Incorrect API key provided: [redacted]. [redacted][redacted]!");
  EXPECT_FALSE(RedactSecret(&text, "sk-123"));
  EXPECT_FALSE(RedactSecret(&text, ""));
  // A message cut in the middle of the secret.
  std::string cut = "Incorrect API key provided: sk-abcdefgh";
  EXPECT_TRUE(RedactSecret(&cut, "sk-abcdefghijklmnop"));
  EXPECT_EQ(cut, "Incorrect API key provided: [redacted]");
  std::string short_tail = "ends with sk-abcd";
  EXPECT_FALSE(RedactSecret(&short_tail, "sk-abcdefghijklmnop"));
  // A secret that is part of the replacement text does not loop.
  std::string odd = "redacted";
  EXPECT_TRUE(RedactSecret(&odd, "redacted"));
  EXPECT_EQ(odd, "[redacted]");
}

}  // namespace
}  // namespace llmbench
