// Replays the fuzz seed inputs (the engine transcripts under tests/fixtures/engines/, the
// examples/ scenarios, fuzz/seeds/) and every input kept under fuzz/regressions/<target>/
// through the fuzz entry points. An input that breaks an invariant aborts the binary after
// printing its name; each test also asserts how many inputs it replayed, so that a moved
// folder cannot make it pass empty.
#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "fuzz/fuzz_targets.h"
#include "gtest/gtest.h"

namespace llmbench::fuzz {
namespace {

using Entry = int (*)(const uint8_t*, size_t);

const std::string kSource = LLMBENCH_SOURCE_DIR;

// Regular files in `dir` (sorted), filtered by suffix; empty when the folder is missing.
std::vector<std::string> ListFiles(const std::string& dir, const std::vector<std::string>& suffixes = {}) {
  std::vector<std::string> files;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return files;
  while (dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || name == ".gitkeep") continue;
    bool match = suffixes.empty();
    for (const std::string& s : suffixes) match = match || absl::EndsWith(name, s);
    if (match) files.push_back(dir + "/" + name);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void Replay(Entry entry, const std::string& what, const std::string& input) {
  std::fprintf(stderr, "replaying %s (%zu bytes)\n", what.c_str(), input.size());
  EXPECT_EQ(entry(reinterpret_cast<const uint8_t*>(input.data()), input.size()), 0) << what;
}

// Replays every kept crash of `target`; returns how many.
size_t ReplayRegressions(Entry entry, const std::string& target) {
  size_t n = 0;
  for (const std::string& path : ListFiles(kSource + "/fuzz/regressions/" + target)) {
    Replay(entry, path, ReadFile(path));
    ++n;
  }
  for (const std::string& path : ListFiles(kSource + "/fuzz/seeds/" + target)) {
    Replay(entry, path, ReadFile(path));
    ++n;
  }
  return n;
}

// Replays each file under a header prefix (the same prefixes scripts/fuzz.sh uses for the
// seed corpora, plus a few more); returns how many inputs.
size_t ReplayWithHeaders(Entry entry, const std::vector<std::string>& files,
                         const std::vector<std::string>& headers) {
  size_t n = 0;
  for (const std::string& path : files) {
    const std::string body = ReadFile(path);
    for (const std::string& header : headers) {
      Replay(entry, path, header + body);
      ++n;
    }
  }
  return n;
}

std::string Engines(const std::string& sub) { return kSource + "/tests/fixtures/engines/" + sub; }

// Framing headers: default cap whole/sliced, a 16-byte cap, a 1-byte cap.
const std::vector<std::string> kFramingHeaders = {std::string("\x80\x00", 2), "\x80\x03",
                                                  "\x0f\x05", std::string("\x00\x01", 2)};
// Protocol headers: 200 stream, sliced; non-stream; other API; 400 (0xC8); 429 (0xCC);
// transport error; no status line.
const std::vector<std::string> kProtocolHeaders = {
    std::string("\x00\x00\x00", 3), std::string("\x00\x00\x07", 3), std::string("\x00\x01\x00", 3),
    std::string("\x00\x02\x02", 3), std::string("\xc8\x00\x00", 3), std::string("\xcc\x01\x05", 3),
    std::string("\x00\x10\x01", 3), std::string("\x00\x40\x00", 3)};

std::vector<std::string> AllEngineFiles(const std::vector<std::string>& suffixes) {
  std::vector<std::string> files;
  for (const char* engine : {"ollama", "vllm", "tgi", "llamacpp"}) {
    for (std::string& f : ListFiles(Engines(engine), suffixes)) files.push_back(std::move(f));
  }
  return files;
}

TEST(FuzzRegressionTest, SseFraming) {
  size_t n = ReplayWithHeaders(FuzzSseFraming, AllEngineFiles({".sse"}), kFramingHeaders);
  n += ReplayRegressions(FuzzSseFraming, "sse_framing_fuzz");
  EXPECT_GE(n, 40u);  // 10 transcripts x 4 headers at least
}

TEST(FuzzRegressionTest, NdjsonFraming) {
  size_t n = ReplayWithHeaders(FuzzNdjsonFraming, AllEngineFiles({".ndjson"}), kFramingHeaders);
  n += ReplayRegressions(FuzzNdjsonFraming, "ndjson_framing_fuzz");
  EXPECT_GE(n, 12u);  // 3 transcripts x 4 headers at least
}

TEST(FuzzRegressionTest, OllamaProtocol) {
  size_t n = ReplayWithHeaders(FuzzOllamaProtocol, ListFiles(Engines("ollama")), kProtocolHeaders);
  n += ReplayRegressions(FuzzOllamaProtocol, "ollama_protocol_fuzz");
  EXPECT_GE(n, 100u);
}

TEST(FuzzRegressionTest, OpenAiProtocol) {
  std::vector<std::string> headers = kProtocolHeaders;
  // Every engine kind (mode bits 2-3) on both routes.
  for (char mode : {'\x04', '\x06', '\x08', '\x0a', '\x0c', '\x0e'}) {
    headers.push_back(std::string("\x00", 1) + mode + '\x03');
  }
  size_t n = ReplayWithHeaders(FuzzOpenAiProtocol, AllEngineFiles({".sse", ".json"}), headers);
  n += ReplayRegressions(FuzzOpenAiProtocol, "openai_protocol_fuzz");
  EXPECT_GE(n, 300u);
}

TEST(FuzzRegressionTest, TgiProtocol) {
  size_t n = ReplayWithHeaders(FuzzTgiProtocol, ListFiles(Engines("tgi")), kProtocolHeaders);
  n += ReplayRegressions(FuzzTgiProtocol, "tgi_protocol_fuzz");
  EXPECT_GE(n, 100u);
}

TEST(FuzzRegressionTest, ScenarioLoader) {
  size_t n = ReplayWithHeaders(FuzzScenarioLoader,
                               ListFiles(kSource + "/examples", {".yaml"}), {""});
  n += ReplayRegressions(FuzzScenarioLoader, "scenario_loader_fuzz");
  EXPECT_GE(n, 6u);
}

TEST(FuzzRegressionTest, TraceLoader) {
  // The fixture traces in every format mode (the header byte picks the format).
  size_t n =
      ReplayWithHeaders(FuzzTraceLoader, ListFiles(kSource + "/tests/fixtures/traces", {".jsonl"}),
                        {std::string(1, '\0'), "\x01", "\x02", "\x03"});
  n += ReplayRegressions(FuzzTraceLoader, "trace_loader_fuzz");
  EXPECT_GE(n, 12u);
}

}  // namespace
}  // namespace llmbench::fuzz
