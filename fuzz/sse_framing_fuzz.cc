// Fuzz target: SSE framing. See fuzz_targets.h for the input layout and the checks.
#include <string>
#include <string_view>
#include <vector>

#include "common/framing.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/fuzz_util.h"

namespace llmbench::fuzz {
namespace {

struct SseRun {
  std::vector<std::string> events;  // event, data, id, error flag joined
  bool ok = true;
  std::string error;
  bool partial = false;
  size_t comments = 0;
};

// Feeds `stream` cut by `seed` (0: one slice; 255 here means single bytes).
SseRun RunSse(std::string_view stream, size_t cap, uint8_t seed, bool single_bytes) {
  SseRun run;
  SseParser parser(cap);
  const auto on_event = [&](const SseEvent& ev) {
    LLMBENCH_FUZZ_CHECK(ev.data.size() <= cap, "event data above the cap");
    std::string joined;
    joined.append(ev.event).append(1, '\x01').append(ev.data).append(1, '\x01').append(ev.id);
    joined.push_back(ev.error_field ? '1' : '0');
    run.events.push_back(std::move(joined));
  };
  if (single_bytes) {
    for (size_t i = 0; i < stream.size() && run.ok; ++i) {
      absl::Status status = parser.Feed(stream.substr(i, 1), on_event);
      if (!status.ok()) {
        run.ok = false;
        run.error = std::string(status.message());
      }
    }
  } else {
    Slicer slicer(stream, seed);
    std::string_view slice;
    while (run.ok && slicer.Next(&slice)) {
      absl::Status status = parser.Feed(slice, on_event);
      if (!status.ok()) {
        run.ok = false;
        run.error = std::string(status.message());
      }
    }
  }
  if (run.ok) {
    run.partial = parser.HasPartialEvent();
  } else {
    // A failed parser stays failed and dispatches nothing more.
    const size_t before = run.events.size();
    LLMBENCH_FUZZ_CHECK(!parser.Feed("data: x\n\n", on_event).ok(), "parser usable after error");
    LLMBENCH_FUZZ_CHECK(run.events.size() == before, "failed parser dispatched an event");
  }
  run.comments = parser.comments();
  return run;
}

}  // namespace

int FuzzSseFraming(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cap = (data[0] & 0x80) != 0 ? kDefaultMaxLineBytes : 1 + (data[0] & 0x7f);
  const uint8_t seed = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  const SseRun whole = RunSse(stream, cap, 0, false);
  const SseRun sliced = RunSse(stream, cap, seed == 0 ? 1 : seed, false);
  LLMBENCH_FUZZ_CHECK(whole.events == sliced.events, "events depend on slicing");
  LLMBENCH_FUZZ_CHECK(whole.ok == sliced.ok, "status depends on slicing");
  LLMBENCH_FUZZ_CHECK(whole.partial == sliced.partial, "partial flag depends on slicing");
  if (whole.ok) {
    LLMBENCH_FUZZ_CHECK(whole.comments == sliced.comments, "comments depend on slicing");
  }
  if (stream.size() <= 4096) {
    const SseRun bytes = RunSse(stream, cap, 0, true);
    LLMBENCH_FUZZ_CHECK(whole.events == bytes.events, "events differ fed byte by byte");
    LLMBENCH_FUZZ_CHECK(whole.ok == bytes.ok, "status differs fed byte by byte");
    LLMBENCH_FUZZ_CHECK(whole.partial == bytes.partial, "partial flag differs byte by byte");
  }
  return 0;
}

}  // namespace llmbench::fuzz
