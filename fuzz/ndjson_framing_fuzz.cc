// Fuzz target: NDJSON framing. See fuzz_targets.h for the input layout and the checks.
#include <string>
#include <string_view>
#include <vector>

#include "common/framing.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/fuzz_util.h"

namespace llmbench::fuzz {
namespace {

struct NdjsonRun {
  std::vector<std::string> lines;
  bool ok = true;
  bool partial = false;
};

NdjsonRun RunNdjson(std::string_view stream, size_t cap, uint8_t seed, bool single_bytes) {
  NdjsonRun run;
  NdjsonParser parser(cap);
  const auto on_line = [&](std::string_view line) {
    LLMBENCH_FUZZ_CHECK(!line.empty(), "empty line dispatched");
    LLMBENCH_FUZZ_CHECK(line.size() <= cap, "line above the cap");
    LLMBENCH_FUZZ_CHECK(line.find('\n') == std::string_view::npos, "line holds a newline");
    run.lines.emplace_back(line);
  };
  const auto feed = [&](std::string_view slice) {
    if (!parser.Feed(slice, on_line).ok()) run.ok = false;
  };
  if (single_bytes) {
    for (size_t i = 0; i < stream.size() && run.ok; ++i) feed(stream.substr(i, 1));
  } else {
    Slicer slicer(stream, seed);
    std::string_view slice;
    while (run.ok && slicer.Next(&slice)) feed(slice);
  }
  if (run.ok) {
    run.partial = parser.HasPartialLine();
  } else {
    const size_t before = run.lines.size();
    LLMBENCH_FUZZ_CHECK(!parser.Feed("{}\n", on_line).ok(), "parser usable after error");
    LLMBENCH_FUZZ_CHECK(run.lines.size() == before, "failed parser dispatched a line");
  }
  return run;
}

}  // namespace

int FuzzNdjsonFraming(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cap = (data[0] & 0x80) != 0 ? kDefaultMaxLineBytes : 1 + (data[0] & 0x7f);
  const uint8_t seed = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  const NdjsonRun whole = RunNdjson(stream, cap, 0, false);
  const NdjsonRun sliced = RunNdjson(stream, cap, seed == 0 ? 1 : seed, false);
  LLMBENCH_FUZZ_CHECK(whole.lines == sliced.lines, "lines depend on slicing");
  LLMBENCH_FUZZ_CHECK(whole.ok == sliced.ok, "status depends on slicing");
  LLMBENCH_FUZZ_CHECK(whole.partial == sliced.partial, "partial flag depends on slicing");
  if (stream.size() <= 4096) {
    const NdjsonRun bytes = RunNdjson(stream, cap, 0, true);
    LLMBENCH_FUZZ_CHECK(whole.lines == bytes.lines, "lines differ fed byte by byte");
    LLMBENCH_FUZZ_CHECK(whole.ok == bytes.ok, "status differs fed byte by byte");
    LLMBENCH_FUZZ_CHECK(whole.partial == bytes.partial, "partial flag differs byte by byte");
  }
  return 0;
}

}  // namespace llmbench::fuzz
