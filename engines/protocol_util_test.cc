#include "engines/protocol_util.h"

#include <string>

#include "gtest/gtest.h"

namespace llmbench::engines {
namespace {

TEST(ProtocolUtilTest, JsonStringEscaping) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\n\r\t\b\f\x1f/é日");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u001f/é日\"");
  out.clear();
  // Invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong form, a surrogate.
  AppendJsonString(out, "x\x80y\xE6\x97z\xC0\xAF\xED\xA0\x80");
  EXPECT_EQ(out,
            "\"x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF"
            "\xBD\xEF\xBF\xBD\"");
}

TEST(ProtocolUtilTest, JsonDoubles) {
  std::string out;
  for (double v : {0.0, 0.7, 1.0, 1e-5, 2.5}) {
    AppendJsonDouble(&out, v);
    out.push_back(',');
  }
  EXPECT_EQ(out, "0,0.7,1,1e-05,2.5,");
}

TEST(ProtocolUtilTest, Truncation) {
  EXPECT_EQ(TruncateUtf8("short", 10), "short");
  EXPECT_EQ(TruncateUtf8("abcdefghij", 10), "abcdefghij");
  EXPECT_EQ(TruncateUtf8("abcdefghijk", 10), "abcdefg\xE2\x80\xA6");
  // "日" is 3 bytes: 7 bytes of room hold two of them.
  EXPECT_EQ(TruncateUtf8("日日日日", 10), "日日\xE2\x80\xA6");
  EXPECT_EQ(TruncateUtf8("bad\xFF", 10), "bad\xEF\xBF\xBD");
}

TEST(ProtocolUtilTest, ClassifyHttpErrorNeverLeaksMoreThanTheCap) {
  const std::string body(100000, 'x');
  EngineError error = ClassifyHttpError(500, body);
  EXPECT_EQ(error.error_class, llmbench::v1::ERROR_CLASS_HTTP_5XX);
  EXPECT_EQ(error.message.size(), kMaxErrorMessageBytes);
  EXPECT_EQ(error.message, std::string(kMaxErrorMessageBytes - 3, 'x') + "\xE2\x80\xA6");
  EXPECT_EQ(ClassifyHttpError(503, "{\"error\":\"whatever\",\"error_type\":\"overloaded\"}")
                .error_class,
            llmbench::v1::ERROR_CLASS_OVERLOADED);
  // Non-message error objects are kept as compact JSON.
  EXPECT_EQ(ClassifyHttpError(400, "{\"error\":{\"code\":1}}").message, "{\"code\":1}");
}

}  // namespace
}  // namespace llmbench::engines
