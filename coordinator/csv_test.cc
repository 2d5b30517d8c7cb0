#include "coordinator/csv.h"

#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

TEST(CsvTest, CsvFieldQuotesPerRfc4180) {
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("plain text"), "plain text");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("line1\nline2"), "\"line1\nline2\"");
  EXPECT_EQ(CsvField("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(CsvField("\""), "\"\"\"\"");
}

}  // namespace
}  // namespace llmbench::coordinator
