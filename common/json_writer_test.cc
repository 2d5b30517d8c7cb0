#include "common/json_writer.h"

#include <gtest/gtest.h>

namespace llmbench {
namespace {

std::string Esc(std::string_view s, JsonEscape mode) {
  std::string out;
  AppendJsonString(out, s, mode);
  return out;
}

TEST(JsonWriterTest, CompactKeepsUtf8AndEscapesControls) {
  EXPECT_EQ(Esc("a\"b\\c\n\t\x01 日本 <&>", JsonEscape::kCompact),
            "\"a\\\"b\\\\c\\n\\t\\u0001 日本 <&>\"");
}

TEST(JsonWriterTest, GoHtmlEscapesAngleBracketsAndAmpersand) {
  EXPECT_EQ(Esc("</think> & x", JsonEscape::kGoHtml), "\"\\u003c/think\\u003e \\u0026 x\"");
  EXPECT_EQ(Esc("\xE2\x80\xA8", JsonEscape::kGoHtml), "\"\\u2028\"");
  EXPECT_EQ(Esc("naïve", JsonEscape::kGoHtml), "\"naïve\"");
}

TEST(JsonWriterTest, AsciiEscapesEveryNonAsciiCodePoint) {
  EXPECT_EQ(Esc("naïve 日本", JsonEscape::kAscii), "\"na\\u00efve \\u65e5\\u672c\"");
  EXPECT_EQ(Esc("\xF0\x9F\x98\x80", JsonEscape::kAscii), "\"\\ud83d\\ude00\"");
}

TEST(JsonWriterTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(Esc("a\xC3", JsonEscape::kCompact), "\"a\xEF\xBF\xBD\"");
  EXPECT_EQ(Esc("a\xFF", JsonEscape::kAscii), "\"a\\ufffd\"");
}

TEST(JsonWriterTest, Numbers) {
  std::string out;
  AppendInt(out, -42);
  out.push_back(' ');
  AppendPythonFloat(out, 3);
  out.push_back(' ');
  AppendPythonFloat(out, 0.205);
  out.push_back(' ');
  AppendShortestDouble(out, 0.351245019);
  EXPECT_EQ(out, "-42 3.0 0.205 0.351245019");
}

}  // namespace
}  // namespace llmbench
