// Fuzz entry points: one function per target, each taking one input and returning 0 (the
// libFuzzer convention). They are linked into the libFuzzer binaries (fuzz/fuzz_main.cc) and,
// without -fsanitize=fuzzer, into fuzz_regression_test, which replays the seed corpora and
// every input kept under fuzz/regressions/.
//
// An entry point aborts (after printing what broke) when an invariant does not hold; sanitizer
// findings abort by themselves. Input layouts are described at each function.
//
// Thread-compatible: the protocol targets use the calling thread's JSON parser; call from one
// thread at a time per target.
#ifndef LLMBENCH_FUZZ_FUZZ_TARGETS_H_
#define LLMBENCH_FUZZ_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>

namespace llmbench::fuzz {

// SSE framing (common/framing.h SseParser). data[0]: line cap (bit 7 set: the default 1 MiB,
// else 1 + (data[0] & 0x7f)); data[1]: slice-size seed; the rest is the stream. Checks that
// one slice, seeded random slices and single bytes give the same events, status, comment
// count and partial-event flag.
int FuzzSseFraming(const uint8_t* data, size_t size);

// NDJSON framing (NdjsonParser); the same layout and checks as FuzzSseFraming.
int FuzzNdjsonFraming(const uint8_t* data, size_t size);

// Protocol targets. Layout (kProtocolHeaderBytes header, then the response body):
//   data[0]: HTTP status: < 0xC0 → 200, else one of kFuzzStatuses[(data[0]-0xC0) % N];
//   data[1]: mode bits: 0x01 non-stream, 0x02 the other API (Ollama chat / OpenAI
//            completions), 0x0C engine kind for the OpenAI target (vllm/openai/ollama/tgi),
//            0x10 a transport error at Finish, 0x20 a JSON content-type header instead of
//            text/event-stream, 0x40 no status line at all, 0x80 the body
//            starts with "name: value" header lines up to an empty line;
//   data[2]: slice-size seed (0: the whole body in one slice).
// Checks record invariants (content_chunks == chunk_offsets_ns size, offsets non-decreasing,
// first_token_ns consistent, error message ≤ 512 bytes of valid UTF-8, output token source)
// and that the record does not depend on how the body was sliced.
inline constexpr size_t kProtocolHeaderBytes = 3;
int FuzzOllamaProtocol(const uint8_t* data, size_t size);
int FuzzOpenAiProtocol(const uint8_t* data, size_t size);
int FuzzTgiProtocol(const uint8_t* data, size_t size);

// Scenario loader: the input is a YAML file given to ParseScenarioYaml(data, "fuzz.yaml",
// "/nonexistent"). Checks that errors are InvalidArgument/NotFound with a "fuzz.yaml:" or
// field-path message of valid UTF-8, and that a loaded scenario round-trips through
// ScenarioToYaml.
int FuzzScenarioLoader(const uint8_t* data, size_t size);

// Trace loader (coordinator/trace_file.h ParseTrace): data[0] % 4 picks the format (auto,
// mooncake, plain, unspecified), the rest is the JSONL file "fuzz.jsonl". Checks that errors
// are InvalidArgument naming "fuzz.jsonl" in valid UTF-8, and that a parsed trace is non-empty,
// sorted, of a resolved format, with every length and cap in range.
int FuzzTraceLoader(const uint8_t* data, size_t size);

}  // namespace llmbench::fuzz

#endif  // LLMBENCH_FUZZ_FUZZ_TARGETS_H_
