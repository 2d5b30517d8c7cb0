#include "coordinator/request_samples.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

// ---------------------------------------------------------------------------------------------
// requests.csv

constexpr char kCsvHeader[] =
    "request_id,engine,warmup,sent_ns,first_token_ns,end_ns,chunk_offsets_ns,output_tokens,"
    "error_class,error_message\n";

TEST(RequestSamplesTest, ParsesMeasuredSuccesses) {
  const std::string csv = std::string(kCsvHeader) +
      // TTFT 10 ms, E2E 40 ms, 4 tokens: TPOT 10 ms; gaps 10, 10, 10 ms.
      "0,a,false,1000000000,1010000000,1040000000,10000000;20000000;30000000;40000000,4,none,\n"
      // warm-up: skipped
      "1,a,true,0,1000000,2000000,1000000,1,none,\n"
      // failure with a quoted message holding a comma, a quote and a newline: skipped
      "2,a,false,0,,5000000,,0,timeout,\"slow, \"\"very\"\"\nslow\"\n"
      // another engine, no first token (non-streamed)
      "3,\"b,1\",false,0,,7000000,,3,none,\n";
  absl::StatusOr<std::map<std::string, RequestSamples>> s = ParseRequestSamples(csv, "x.csv");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 2u);
  const RequestSamples& a = s->at("a");
  EXPECT_EQ(a.ttft_ms, std::vector<double>({10}));
  EXPECT_EQ(a.e2e_ms, std::vector<double>({40}));
  EXPECT_EQ(a.tpot_ms, std::vector<double>({10}));
  EXPECT_EQ(a.itl_ms, std::vector<double>({10, 10, 10}));
  EXPECT_EQ(a.sent_ns, std::vector<int64_t>({1000000000}));
  EXPECT_EQ(a.end_ns, std::vector<int64_t>({1040000000}));
  const RequestSamples& b = s->at("b,1");
  EXPECT_TRUE(b.ttft_ms.empty());
  EXPECT_TRUE(b.tpot_ms.empty());
  EXPECT_EQ(b.e2e_ms, std::vector<double>({7}));
  EXPECT_EQ(b.sent_ns, std::vector<int64_t>({0}));
  EXPECT_EQ(b.end_ns, std::vector<int64_t>({7000000}));
}

TEST(RequestSamplesTest, ErrorsNameTheLine) {
  EXPECT_EQ(ParseRequestSamples("", "r.csv").status().message(), "r.csv: empty (no header line)");
  EXPECT_EQ(ParseRequestSamples("a,b\n1,2\n", "r.csv").status().message(),
            "r.csv:1: no column \"engine\" (not a llmbench requests.csv)");
  EXPECT_EQ(ParseRequestSamples(std::string(kCsvHeader) + "0,a,false,1,2\n", "r.csv")
                .status()
                .message(),
            "r.csv:2: 5 fields, the header has 10");
  EXPECT_EQ(ParseRequestSamples(std::string(kCsvHeader) + "0,a,false,x,2,3,,1,none,\n", "r.csv")
                .status()
                .message(),
            "r.csv:2: column sent_ns: 'x' is not an integer");
  EXPECT_EQ(ParseRequestSamples(std::string(kCsvHeader) + "0,a,false,1,2,3,,1,none,\"x\n",
                                "r.csv")
                .status()
                .message(),
            "r.csv:2: a quoted field is not closed before the end of the file");
}

}  // namespace
}  // namespace llmbench::coordinator
