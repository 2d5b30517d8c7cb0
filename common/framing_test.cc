#include "common/framing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace llmbench {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(LLMBENCH_SOURCE_DIR) / "tests" / "fixtures" / "engines";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// An owned copy of an SseEvent.
struct Ev {
  std::string event;
  std::string data;
  std::string id;
  bool error_field = false;
  bool operator==(const Ev& o) const {
    return std::tie(event, data, id, error_field) ==
           std::tie(o.event, o.data, o.id, o.error_field);
  }
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{event='" << e.event << "' data='" << e.data << "' id='" << e.id
            << "' error=" << e.error_field << "}";
}

struct SseResult {
  std::vector<Ev> events;
  absl::Status status;
  size_t comments = 0;
  bool partial = false;
};

SseResult ParseSse(const std::vector<std::string_view>& chunks,
                   size_t max_line = kDefaultMaxLineBytes) {
  SseParser parser(max_line);
  SseResult r;
  for (std::string_view chunk : chunks) {
    r.status = parser.Feed(chunk, [&](const SseEvent& e) {
      r.events.push_back(
          {std::string(e.event), std::string(e.data), std::string(e.id), e.error_field});
    });
    if (!r.status.ok()) break;
  }
  r.comments = parser.comments();
  r.partial = parser.HasPartialEvent();
  return r;
}

struct NdjsonResult {
  std::vector<std::string> lines;
  absl::Status status;
  bool partial = false;
};

NdjsonResult ParseNdjson(const std::vector<std::string_view>& chunks,
                         size_t max_line = kDefaultMaxLineBytes) {
  NdjsonParser parser(max_line);
  NdjsonResult r;
  for (std::string_view chunk : chunks) {
    r.status = parser.Feed(chunk, [&](std::string_view line) { r.lines.emplace_back(line); });
    if (!r.status.ok()) break;
  }
  r.partial = parser.HasPartialLine();
  return r;
}

// Chunkings of a stream.
std::vector<std::string_view> Whole(std::string_view s) { return {s}; }
std::vector<std::string_view> Bytes(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size(); ++i) out.push_back(s.substr(i, 1));
  return out;
}
std::vector<std::string_view> SplitAt(std::string_view s, size_t i) {
  return {s.substr(0, i), s.substr(i)};
}
std::vector<std::string_view> RandomChunks(std::string_view s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    // Sizes 0..40: empty slices are legal input too.
    const size_t n = std::min<size_t>(s.size() - pos, rng() % 41);
    out.push_back(s.substr(pos, n));
    pos += n;
  }
  return out;
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// Every chunking of `stream` yields the same result as the whole stream.
void ExpectSseSplitInvariant(const std::string& stream, const std::string& label) {
  const SseResult whole = ParseSse(Whole(stream));
  ASSERT_TRUE(whole.status.ok()) << label << ": " << whole.status;
  auto same = [&](const SseResult& r, const std::string& how) {
    ASSERT_TRUE(r.status.ok()) << label << " " << how << ": " << r.status;
    ASSERT_EQ(r.events, whole.events) << label << " " << how;
    ASSERT_EQ(r.comments, whole.comments) << label << " " << how;
    ASSERT_EQ(r.partial, whole.partial) << label << " " << how;
  };
  same(ParseSse(Bytes(stream)), "byte at a time");
  for (size_t i = 0; i <= stream.size(); ++i) {
    same(ParseSse(SplitAt(stream, i)), "split at " + std::to_string(i));
  }
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    same(ParseSse(RandomChunks(stream, seed)), "random chunks seed " + std::to_string(seed));
  }
}

void ExpectNdjsonSplitInvariant(const std::string& stream, const std::string& label) {
  const NdjsonResult whole = ParseNdjson(Whole(stream));
  ASSERT_TRUE(whole.status.ok()) << label << ": " << whole.status;
  auto same = [&](const NdjsonResult& r, const std::string& how) {
    ASSERT_TRUE(r.status.ok()) << label << " " << how << ": " << r.status;
    ASSERT_EQ(r.lines, whole.lines) << label << " " << how;
    ASSERT_EQ(r.partial, whole.partial) << label << " " << how;
  };
  same(ParseNdjson(Bytes(stream)), "byte at a time");
  for (size_t i = 0; i <= stream.size(); ++i) {
    same(ParseNdjson(SplitAt(stream, i)), "split at " + std::to_string(i));
  }
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    same(ParseNdjson(RandomChunks(stream, seed)), "random chunks seed " + std::to_string(seed));
  }
}

std::vector<fs::path> FixturesWithExtension(const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(kFixtures)) {
    if (entry.is_regular_file() && entry.path().extension() == ext) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------------------
// Every fixture, every split.

TEST(FramingFixturesTest, EverySseFixtureIsSplitInvariant) {
  const auto files = FixturesWithExtension(".sse");
  ASSERT_GE(files.size(), 10u) << "fixtures missing under " << kFixtures;
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const std::string lf = ReadFile(path);
    const SseResult whole = ParseSse(Whole(lf));
    ASSERT_TRUE(whole.status.ok()) << whole.status;
    EXPECT_FALSE(whole.events.empty());
    EXPECT_FALSE(whole.partial);  // every fixture ends with a complete event
    ExpectSseSplitInvariant(lf, path.string());

    // The same stream with "\r\n" and with lone "\r" line endings gives the same events, in
    // every split too (this puts the '\r' | '\n' pair across slice boundaries).
    const std::string crlf = Replace(lf, "\n", "\r\n");
    EXPECT_EQ(ParseSse(Whole(crlf)).events, whole.events);
    ExpectSseSplitInvariant(crlf, path.string() + " (CRLF)");
    const std::string cr = Replace(lf, "\n", "\r");
    EXPECT_EQ(ParseSse(Whole(cr)).events, whole.events);
    ExpectSseSplitInvariant(cr, path.string() + " (CR)");
  }
}

TEST(FramingFixturesTest, EveryNdjsonFixtureIsSplitInvariant) {
  const auto files = FixturesWithExtension(".ndjson");
  ASSERT_GE(files.size(), 3u) << "fixtures missing under " << kFixtures;
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const std::string lf = ReadFile(path);
    const NdjsonResult whole = ParseNdjson(Whole(lf));
    ASSERT_TRUE(whole.status.ok()) << whole.status;
    EXPECT_FALSE(whole.lines.empty());
    EXPECT_FALSE(whole.partial);
    for (const auto& line : whole.lines) {
      EXPECT_EQ(line.front(), '{');
      EXPECT_EQ(line.back(), '}');
    }
    ExpectNdjsonSplitInvariant(lf, path.string());
    const std::string crlf = Replace(lf, "\n", "\r\n");
    EXPECT_EQ(ParseNdjson(Whole(crlf)).lines, whole.lines);
    ExpectNdjsonSplitInvariant(crlf, path.string() + " (CRLF)");
  }
}

TEST(FramingFixturesTest, VllmChatStreamUsage) {
  const std::string s = ReadFile(kFixtures / "vllm" / "chat_stream_usage.sse");
  const SseResult r = ParseSse(Whole(s));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.events.size(), 6u);
  EXPECT_EQ(r.events.back(), (Ev{"", "[DONE]", "", false}));
  EXPECT_TRUE(r.events[0].data.starts_with(R"({"id":"chatcmpl-ba1b4314210adc3b",)"))
      << r.events[0].data;
  EXPECT_TRUE(r.events[4].data.find(R"("choices":[],"usage")") != std::string::npos);
  for (const auto& e : r.events) {
    EXPECT_EQ(e.event, "");
    EXPECT_EQ(e.id, "");
    EXPECT_FALSE(e.error_field);
  }
  EXPECT_EQ(r.comments, 0u);
}

TEST(FramingFixturesTest, TgiGenerateStreamHasNoDone) {
  // TGI writes "data:{…}" without the space; the value starts right after the colon.
  const std::string s = ReadFile(kFixtures / "tgi" / "generate_stream.sse");
  const SseResult r = ParseSse(Whole(s));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.events.size(), 10u);
  for (size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_TRUE(r.events[i].data.starts_with("{\"index\":" + std::to_string(i + 1) + ","))
        << r.events[i].data;
    EXPECT_NE(r.events[i].data, "[DONE]");
  }
  EXPECT_TRUE(r.events.back().data.find(R"("generated_text":" le faire)") != std::string::npos);
}

TEST(FramingFixturesTest, VllmMidstreamError) {
  const SseResult r = ParseSse(Whole(ReadFile(kFixtures / "vllm" / "stream_error_midstream.sse")));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.events.size(), 4u);
  EXPECT_TRUE(r.events[2].data.starts_with(R"({"error": {"message": "EngineCore)"));
  EXPECT_FALSE(r.events[2].error_field);  // a data field holding an error, not `error:`
  EXPECT_EQ(r.events[3].data, "[DONE]");
}

TEST(FramingFixturesTest, OllamaGenerateStream) {
  const NdjsonResult r =
      ParseNdjson(Whole(ReadFile(kFixtures / "ollama" / "generate_stream.ndjson")));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.lines.size(), 8u);
  EXPECT_TRUE(r.lines[0].starts_with(
      R"({"model":"gemma4","created_at":"2025-10-26T17:15:24.097767Z","response":"That")"));
  EXPECT_TRUE(r.lines[7].find(R"("done":true)") != std::string::npos);
  for (size_t i = 0; i < 7; ++i) EXPECT_TRUE(r.lines[i].ends_with(R"("done":false})"));
}

// ---------------------------------------------------------------------------------------
// SSE field rules.

TEST(SseParserTest, DataWithAndWithoutSpace) {
  const SseResult r = ParseSse(Whole("data: a\n\ndata:b\n\ndata:  c\n\n"));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].data, "a");
  EXPECT_EQ(r.events[1].data, "b");
  EXPECT_EQ(r.events[2].data, " c");  // only one space is stripped
}

TEST(SseParserTest, MultiLineDataJoinedWithNewline) {
  const SseResult r = ParseSse(Whole("data: {\"a\":\ndata: 1}\ndata:\n\n"));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "{\"a\":\n1}\n");
}

TEST(SseParserTest, EventAndIdFields) {
  // `event` resets after a dispatch; `id` persists (WHATWG last event ID).
  const SseResult r =
      ParseSse(Whole("event: delta\nid: 7\ndata: x\n\ndata: y\n\nid\ndata: z\n\n"));
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0], (Ev{"delta", "x", "7", false}));
  EXPECT_EQ(r.events[1], (Ev{"", "y", "7", false}));
  EXPECT_EQ(r.events[2], (Ev{"", "z", "", false}));  // a bare "id" line clears it
}

TEST(SseParserTest, ErrorFieldOfOldLlamaCpp) {
  const SseResult r = ParseSse(
      Whole("data: {\"content\":\"a\"}\n\nerror: {\"code\":500,\"message\":\"boom\"}\n\n"));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0], (Ev{"", "{\"content\":\"a\"}", "", false}));
  EXPECT_EQ(r.events[1], (Ev{"", "{\"code\":500,\"message\":\"boom\"}", "", true}));
}

TEST(SseParserTest, CommentsAreCountedNotDispatched) {
  const SseResult r = ParseSse(Whole(":\n\ndata: a\n\n: keep-alive\n\n:\n\ndata: b\n:x\n\n"));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].data, "a");
  EXPECT_EQ(r.events[1].data, "b");
  EXPECT_EQ(r.comments, 4u);
  EXPECT_FALSE(r.partial);
}

TEST(SseParserTest, EventsWithoutDataAreNotDispatched) {
  const SseResult r = ParseSse(Whole("event: ping\n\nretry: 10\n\nfoo: bar\n\n\n\n"));
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.events.empty());
  // An empty `data:` and a bare "data" line are data, with an empty value.
  const SseResult r2 = ParseSse(Whole("data:\n\ndata\n\n"));
  ASSERT_EQ(r2.events.size(), 2u);
  EXPECT_EQ(r2.events[0].data, "");
  EXPECT_EQ(r2.events[1].data, "");
}

TEST(SseParserTest, UnknownFieldsAndColonsInValue) {
  const SseResult r = ParseSse(Whole("retry: 5\nfoo: bar\ndata: a: b:c\n\n"));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "a: b:c");
}

TEST(SseParserTest, LineEndings) {
  const std::vector<Ev> want = {{"", "a", "", false}, {"", "b\nc", "", false}};
  for (std::string stream :
       {"data: a\n\ndata: b\ndata: c\n\n", "data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n",
        "data: a\r\rdata: b\rdata: c\r\r", "data: a\r\n\rdata: b\ndata: c\r\n\n"}) {
    const SseResult r = ParseSse(Whole(stream));
    EXPECT_EQ(r.events, want) << stream;
    ExpectSseSplitInvariant(stream, "line endings");
  }
}

TEST(SseParserTest, CrAtSliceEndThenLfIsOneLineEnding) {
  // If "\r" + "\n" across slices were two line endings, the blank line would dispatch "a" and
  // "b" separately.
  SseResult r = ParseSse({"data: a\r", "\ndata: b\r\n\r\n"});
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "a\nb");
  // "\r" then an empty slice then "\n": still one.
  r = ParseSse({"data: a\r", "", "\ndata: b\r", "\n", "\r", "\n"});
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "a\nb");
  // "\r" then "\r": a line end and a blank line.
  r = ParseSse({"data: a\r", "\r"});
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "a");
  EXPECT_FALSE(r.partial);
}

TEST(SseParserTest, PartialEventAtEof) {
  SseParser parser;
  std::vector<std::string> got;
  auto on = [&](const SseEvent& e) { got.emplace_back(e.data); };
  EXPECT_FALSE(parser.HasPartialEvent());
  ASSERT_TRUE(parser.Feed("data: a\n\ndata: b", on).ok());
  EXPECT_TRUE(parser.HasPartialEvent());  // unfinished line
  ASSERT_TRUE(parser.Feed("\n", on).ok());
  EXPECT_TRUE(parser.HasPartialEvent());  // complete line, unfinished event
  ASSERT_TRUE(parser.Feed("\n", on).ok());
  EXPECT_FALSE(parser.HasPartialEvent());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(parser.Feed("event: x\n", on).ok());
  EXPECT_TRUE(parser.HasPartialEvent());  // an event field without data yet
  ASSERT_TRUE(parser.Feed("\n", on).ok());
  EXPECT_FALSE(parser.HasPartialEvent());
  ASSERT_TRUE(parser.Feed(":", on).ok());
  EXPECT_TRUE(parser.HasPartialEvent());  // an unfinished comment line
  ASSERT_TRUE(parser.Feed("\n", on).ok());
  EXPECT_FALSE(parser.HasPartialEvent());

  // A fixture truncated anywhere inside its last event reports a partial event.
  const std::string s = ReadFile(kFixtures / "vllm" / "chat_stream_usage.sse");
  const size_t last_event = s.rfind("data: [DONE]");
  for (size_t cut = last_event + 1; cut < s.size(); ++cut) {
    const SseResult r = ParseSse(Whole(std::string_view(s).substr(0, cut)));
    EXPECT_EQ(r.events.size(), 5u) << cut;
    EXPECT_TRUE(r.partial) << cut;
  }
  EXPECT_FALSE(ParseSse(Whole(std::string_view(s).substr(0, last_event))).partial);
}

TEST(SseParserTest, EmptyFeed) {
  const SseResult r = ParseSse({"", "", ""});
  EXPECT_TRUE(r.status.ok());
  EXPECT_TRUE(r.events.empty());
  EXPECT_FALSE(r.partial);
}

// ---------------------------------------------------------------------------------------
// Caps.

TEST(SseParserTest, LineExactlyAtCapSucceeds) {
  const std::string line = "data: " + std::string(10, 'x');  // 16 bytes
  const std::string stream = line + "\n\n";
  for (const auto& chunks : {Whole(stream), Bytes(stream)}) {
    const SseResult r = ParseSse(chunks, 16);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].data, std::string(10, 'x'));
  }
  // With "\r\n" the terminator does not count either.
  EXPECT_TRUE(ParseSse(Whole(line + "\r\n\r\n"), 16).status.ok());
}

TEST(SseParserTest, LineOverCapIsAnErrorAndTheParserStaysFailed) {
  const std::string line = "data: " + std::string(11, 'x');  // 17 bytes
  const std::string stream = "data: ok\n\n" + line + "\n\n";
  for (const auto& chunks : {Whole(stream), Bytes(stream)}) {
    const SseResult r = ParseSse(chunks, 16);
    EXPECT_EQ(r.status, absl::ResourceExhaustedError("SSE line exceeds 16 bytes"));
    ASSERT_EQ(r.events.size(), 1u);  // the event before the long line was dispatched
  }
  // An unterminated long line fails as soon as it exceeds the cap (bounded memory).
  SseParser parser(16);
  auto never = [](const SseEvent&) { FAIL() << "no event expected"; };
  ASSERT_TRUE(parser.Feed(std::string(16, 'x'), never).ok());
  EXPECT_EQ(parser.Feed("x", never), absl::ResourceExhaustedError("SSE line exceeds 16 bytes"));
  EXPECT_EQ(parser.Feed("data: y\n\n", never),
            absl::ResourceExhaustedError(
                "SSE parser unusable after an earlier error (a line or event exceeded 16 bytes)"));
}

TEST(SseParserTest, DefaultCapIsOneMebibyte) {
  const std::string at_cap = "data: " + std::string(kDefaultMaxLineBytes - 6, 'x');
  SseResult r = ParseSse({at_cap, "\n\n"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data.size(), kDefaultMaxLineBytes - 6);
  r = ParseSse({at_cap + "x\n\n"});
  EXPECT_EQ(r.status, absl::ResourceExhaustedError("SSE line exceeds 1048576 bytes"));
}

TEST(SseParserTest, EventDataIsCappedToo) {
  // Many data lines without a blank line must not grow memory without bound.
  const SseResult r = ParseSse(Whole("data: 0123456789\ndata: 0123456789\n\n"), 16);
  EXPECT_EQ(r.status, absl::ResourceExhaustedError("SSE event data exceeds 16 bytes"));
  EXPECT_TRUE(r.events.empty());
  // Exactly at the cap: 7 + 1 + 8 bytes.
  const SseResult ok = ParseSse(Whole("data: 0123456\ndata: 01234567\n\n"), 16);
  ASSERT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.events.at(0).data, "0123456\n01234567");
}

// ---------------------------------------------------------------------------------------
// NDJSON.

TEST(NdjsonParserTest, LinesAndTerminators) {
  const NdjsonResult r = ParseNdjson(Whole("{\"a\":1}\n\n\r\n{\"b\":2}\r\n{\"c\":3}"));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_TRUE(r.partial);  // {"c":3} has no terminator yet
  ExpectNdjsonSplitInvariant("{\"a\":1}\n\n\r\n{\"b\":2}\r\n{\"c\":3}", "mixed");
}

TEST(NdjsonParserTest, PartialLine) {
  NdjsonParser parser;
  std::vector<std::string> got;
  auto on = [&](std::string_view l) { got.emplace_back(l); };
  EXPECT_FALSE(parser.HasPartialLine());
  ASSERT_TRUE(parser.Feed("{\"x\":1}\n{\"y\"", on).ok());
  EXPECT_TRUE(parser.HasPartialLine());
  ASSERT_TRUE(parser.Feed(":2}\n", on).ok());
  EXPECT_FALSE(parser.HasPartialLine());
  EXPECT_EQ(got, (std::vector<std::string>{"{\"x\":1}", "{\"y\":2}"}));
}

TEST(NdjsonParserTest, Cap) {
  // Exactly at the cap, with "\n" and with "\r\n", in one piece and byte by byte.
  for (std::string s : {"12345678\n", "12345678\r\n"}) {
    for (const auto& chunks : {Whole(s), Bytes(s)}) {
      const NdjsonResult r = ParseNdjson(chunks, 8);
      ASSERT_TRUE(r.status.ok()) << r.status;
      EXPECT_EQ(r.lines, (std::vector<std::string>{"12345678"}));
    }
  }
  for (std::string s : {"123456789\n", "123456789\r\n"}) {
    for (const auto& chunks : {Whole(s), Bytes(s)}) {
      const NdjsonResult r = ParseNdjson(chunks, 8);
      EXPECT_EQ(r.status, absl::ResourceExhaustedError("NDJSON line exceeds 8 bytes"));
    }
  }
  // An unterminated line fails once it cannot fit even with a '\r' dropped.
  NdjsonParser parser(8);
  auto never = [](std::string_view) { FAIL() << "no line expected"; };
  ASSERT_TRUE(parser.Feed("123456789", never).ok());  // might still be "12345678\r"
  EXPECT_EQ(parser.Feed("0", never), absl::ResourceExhaustedError("NDJSON line exceeds 8 bytes"));
  EXPECT_EQ(parser.Feed("{}\n", never),
            absl::ResourceExhaustedError(
                "NDJSON parser unusable after an earlier error (a line exceeded 8 bytes)"));
  // Default cap.
  const NdjsonResult big = ParseNdjson({std::string(kDefaultMaxLineBytes + 1, 'x') + "\n"});
  EXPECT_EQ(big.status, absl::ResourceExhaustedError("NDJSON line exceeds 1048576 bytes"));
}

// ---------------------------------------------------------------------------------------
// A synthetic stream with every feature, split everywhere.

TEST(SseParserTest, SyntheticStreamIsSplitInvariant) {
  const std::string lf =
      ": hello\n\nevent: message\nid: 1\ndata: {\"a\":\ndata:\"é\"}\n\n:\n\n"
      "data:[DONE]\n\nerror: {\"code\":1}\n\nretry: 3\ndata\n\ndata: tail";
  for (const std::string& s :
       {lf, Replace(lf, "\n", "\r\n"), Replace(lf, "\n", "\r")}) {
    const SseResult r = ParseSse(Whole(s));
    ASSERT_TRUE(r.status.ok());
    ASSERT_EQ(r.events, (std::vector<Ev>{{"message", "{\"a\":\n\"é\"}", "1", false},
                                         {"", "[DONE]", "1", false},
                                         {"", "{\"code\":1}", "1", true},
                                         {"", "", "1", false}}));
    EXPECT_EQ(r.comments, 2u);
    EXPECT_TRUE(r.partial);
    ExpectSseSplitInvariant(s, "synthetic");
  }
}

}  // namespace
}  // namespace llmbench
