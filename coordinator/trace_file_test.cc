#include "coordinator/trace_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

using llmbench::v1::TRACE_FORMAT_AUTO;
using llmbench::v1::TRACE_FORMAT_MOONCAKE;
using llmbench::v1::TRACE_FORMAT_PLAIN;

std::string Error(std::string_view content, llmbench::v1::TraceFormat format = TRACE_FORMAT_AUTO) {
  absl::StatusOr<TraceFile> trace = ParseTrace(content, "t.jsonl", format);
  EXPECT_FALSE(trace.ok());
  if (trace.ok()) return "";
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(trace.status().message());
}

TEST(TraceFileTest, ParsesMooncake) {
  absl::StatusOr<TraceFile> trace = ParseTrace(
      "{\"timestamp\": 0, \"input_length\": 700, \"output_length\": 52, \"hash_ids\": [1, 2]}\n"
      "\n"
      "{\"timestamp\": 27.5, \"input_length\": 10, \"output_length\": 3, \"extra\": true}\n",
      "t.jsonl", TRACE_FORMAT_AUTO);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->format, TRACE_FORMAT_MOONCAKE);
  ASSERT_EQ(trace->entries.size(), 2u);
  EXPECT_EQ(trace->entries[0].input_length, 700u);
  EXPECT_EQ(trace->entries[0].output_length, 52u);
  EXPECT_EQ(trace->entries[0].hash_ids, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(trace->entries[0].line, 1u);
  EXPECT_DOUBLE_EQ(trace->entries[1].timestamp_ms, 27.5);
  EXPECT_EQ(trace->entries[1].line, 3u);
  EXPECT_TRUE(trace->entries[1].hash_ids.empty());
  EXPECT_EQ(trace->reordered, 0u);
}

TEST(TraceFileTest, ParsesPlain) {
  absl::StatusOr<TraceFile> trace = ParseTrace(
      "{\"timestamp\": 5, \"prompt\": \"hello there\", \"max_tokens\": 9}\n"
      "{\"timestamp\": 6, \"prompt\": \"again\"}",
      "t.jsonl", TRACE_FORMAT_AUTO);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->format, TRACE_FORMAT_PLAIN);
  EXPECT_EQ(trace->entries[0].prompt, "hello there");
  EXPECT_EQ(trace->entries[0].max_tokens, 9u);
  EXPECT_FALSE(trace->entries[1].max_tokens.has_value());
}

TEST(TraceFileTest, SortsOutOfOrderTimestampsStably) {
  absl::StatusOr<TraceFile> trace = ParseTrace(
      "{\"timestamp\": 10, \"prompt\": \"a\"}\n"
      "{\"timestamp\": 5, \"prompt\": \"b\"}\n"
      "{\"timestamp\": 10, \"prompt\": \"c\"}\n"
      "{\"timestamp\": 7, \"prompt\": \"d\"}\n",
      "t.jsonl", TRACE_FORMAT_PLAIN);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->reordered, 2u);
  std::string order;
  for (const TraceEntry& e : trace->entries) order += e.prompt;
  EXPECT_EQ(order, "bdac");
}

TEST(TraceFileTest, EveryErrorNamesFileLineAndField) {
  EXPECT_EQ(Error("{\"timestamp\": 0, \"prompt\": \"a\"}\n{bad"),
            "t.jsonl:2: invalid JSON: The JSON document has an improper structure: missing or "
            "superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(Error("[1, 2]"), "t.jsonl:1: expected a JSON object per line, got [1,2]");
  EXPECT_EQ(Error("{\"timestamp\": 0, \"prompt\": \"a\"}\n[1]"),
            "t.jsonl:2: expected a JSON object per line, got [1]");
  EXPECT_EQ(Error("{\"timestamp\": 0}"),
            "t.jsonl:1: cannot tell the trace format: expected \"input_length\" (mooncake) or "
            "\"prompt\" (plain); set load.trace.format (--trace-format)");
  EXPECT_EQ(Error("{\"prompt\": \"a\"}"),
            "t.jsonl:1: timestamp: required (milliseconds from the trace's start)");
  EXPECT_EQ(Error("{\"timestamp\": -5, \"prompt\": \"a\"}"),
            "t.jsonl:1: timestamp: must be a number >= 0 (milliseconds), got -5");
  EXPECT_EQ(Error("{\"timestamp\": \"now\", \"prompt\": \"a\"}"),
            "t.jsonl:1: timestamp: must be a number >= 0 (milliseconds), got \"now\"");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"output_length\": 3}", TRACE_FORMAT_MOONCAKE),
            "t.jsonl:1: input_length: required in the mooncake format");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"input_length\": 3}"),
            "t.jsonl:1: output_length: required in the mooncake format");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"input_length\": 0, \"output_length\": 3}"),
            "t.jsonl:1: input_length: must be a whole number between 1 and 1000000, got 0");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"input_length\": 2.5, \"output_length\": 3}"),
            "t.jsonl:1: input_length: must be a whole number between 1 and 1000000, got 2.5");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"input_length\": 2, \"output_length\": 3000000}"),
            "t.jsonl:1: output_length: must be a whole number between 1 and 1000000, got "
            "3000000");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"input_length\": 2, \"output_length\": 3, \"hash_ids\": 4}"),
            "t.jsonl:1: hash_ids: must be a list of whole numbers >= 0, got 4");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"input_length\": 2, \"output_length\": 3, "
                  "\"hash_ids\": [1, -2]}"),
            "t.jsonl:1: hash_ids[1]: must be a whole number >= 0, got -2");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"input_length\": 2}\n", TRACE_FORMAT_PLAIN),
            "t.jsonl:1: prompt: required in the plain format");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"prompt\": 7}"),
            "t.jsonl:1: prompt: must be a string, got 7");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"prompt\": \"  \"}"),
            "t.jsonl:1: prompt: must not be empty");
  EXPECT_EQ(Error("{\"timestamp\": 1, \"prompt\": \"a\", \"max_tokens\": -1}"),
            "t.jsonl:1: max_tokens: must be a whole number between 1 and 1000000, got -1");
  // A plain entry in a mooncake trace.
  EXPECT_EQ(Error("{\"timestamp\": 0, \"input_length\": 2, \"output_length\": 3}\n"
                  "{\"timestamp\": 1, \"prompt\": \"a\"}"),
            "t.jsonl:2: input_length: required in the mooncake format");
  EXPECT_EQ(Error(""), "t.jsonl: empty trace (no entries)");
  EXPECT_EQ(Error("\n  \n"), "t.jsonl: empty trace (no entries)");
}

TEST(TraceFileTest, LongValuesAreShortenedInErrors) {
  const std::string long_string(100, 'x');
  EXPECT_EQ(Error(absl::StrCat("{\"timestamp\": \"", long_string, "\", \"prompt\": \"a\"}")),
            absl::StrCat("t.jsonl:1: timestamp: must be a number >= 0 (milliseconds), got \"",
                         std::string(36, 'x'), "..."));
}

TEST(TraceFileTest, CapsHashIds) {
  std::string ids;
  for (size_t i = 0; i <= kMaxTraceHashIds; ++i) absl::StrAppend(&ids, i == 0 ? "" : ",", i);
  EXPECT_EQ(Error(absl::StrCat("{\"timestamp\": 1, \"input_length\": 2, \"output_length\": 3, "
                               "\"hash_ids\": [",
                               ids, "]}")),
            "t.jsonl:1: hash_ids: more than 4096 blocks");
}

TEST(TraceFileTest, CapsEntries) {
  std::string content;
  content.reserve((kMaxTraceEntries + 1) * 30);
  for (size_t i = 0; i <= kMaxTraceEntries; ++i) content += "{\"timestamp\":1,\"prompt\":\"a\"}\n";
  EXPECT_EQ(Error(content),
            "t.jsonl:1000001: more than 1000000 entries, the limit for a trace (replay a window "
            "with end_seconds / --trace-end)");
}

TEST(TraceFileTest, LoadTraceFileErrors) {
  const std::string dir = ::testing::TempDir();
  absl::StatusOr<TraceFile> missing =
      LoadTraceFile(dir + "/no-such-trace.jsonl", "no-such-trace.jsonl", TRACE_FORMAT_AUTO);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "no-such-trace.jsonl: cannot read: No such file or directory");
  absl::StatusOr<TraceFile> folder = LoadTraceFile(dir, "dir", TRACE_FORMAT_AUTO);
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.status().message(), "dir: cannot read: Is a directory");
  const std::string path = dir + "/trace_file_test.jsonl";
  {
    std::ofstream out(path);
    out << "{\"timestamp\": 3, \"prompt\": \"x\"}\n";
  }
  absl::StatusOr<TraceFile> ok = LoadTraceFile(path, "trace_file_test.jsonl", TRACE_FORMAT_AUTO);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->entries.size(), 1u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace llmbench::coordinator
