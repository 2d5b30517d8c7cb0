// Incremental framing parsers for streamed engine responses: Server-Sent Events (the OpenAI
// routes, TGI, llama.cpp) and NDJSON (Ollama native). Fed arbitrary byte slices as they come
// off the socket; every split of a stream yields the same events as the whole stream.
//
// Thread-compatible: one parser per response, used by one thread.
#ifndef LLMBENCH_COMMON_FRAMING_H_
#define LLMBENCH_COMMON_FRAMING_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace llmbench {

// Default cap on one line (SSE field line or NDJSON line): 1 MiB. A longer line is an error,
// never unbounded memory.
inline constexpr size_t kDefaultMaxLineBytes = 1 << 20;

// One dispatched SSE event (WHATWG rules; see ../shared/engines/PROTOCOLS.md §0).
struct SseEvent {
  std::string_view event;  // value of the last `event:` field, empty if none
  std::string_view data;   // `data:` lines joined with '\n'
  std::string_view id;     // value of the last `id:` field
  // True when the payload came from an `error:` field (llama.cpp builds of early 2025
  // sent `error: {json}`); `data` then holds the error payload.
  bool error_field = false;
};

// REQUIRES: views passed to the callback are valid only during the callback.
class SseParser {
 public:
  explicit SseParser(size_t max_line_bytes = kDefaultMaxLineBytes);

  // Consumes `bytes`, calling `on_event` for every complete event (ended by a blank line).
  // Lines end in "\n" or "\r\n" (a lone "\r" too). One space after "field:" is stripped;
  // lines starting with ':' are comments and are counted, not dispatched. Events with no
  // data/error field are not dispatched. Returns ResourceExhausted when a line exceeds the
  // cap; the parser is then unusable.
  absl::Status Feed(std::string_view bytes, absl::FunctionRef<void(const SseEvent&)> on_event);

  // True when bytes of an unfinished line or event are buffered (a stream that ends here
  // ended mid-event).
  bool HasPartialEvent() const;
  // Number of comment lines seen (keep-alives).
  size_t comments() const { return comments_; }

 private:
  void ProcessLine(std::string_view line, absl::FunctionRef<void(const SseEvent&)> on_event);

  size_t max_line_bytes_;
  std::string line_;       // bytes of the current, unfinished line
  bool skip_lf_ = false;   // the last byte was '\r'; a following '\n' belongs to it
  std::string data_;       // data of the event being built
  std::string event_;
  std::string id_;
  bool has_data_ = false;
  bool error_field_ = false;
  size_t comments_ = 0;
  bool failed_ = false;
};

// Splits a byte stream into lines ended by '\n' (a trailing '\r' is dropped). Empty lines are
// skipped.
class NdjsonParser {
 public:
  explicit NdjsonParser(size_t max_line_bytes = kDefaultMaxLineBytes);

  // Calls `on_line` for every complete non-empty line (without its terminator). Returns
  // ResourceExhausted when a line exceeds the cap; the parser is then unusable.
  absl::Status Feed(std::string_view bytes, absl::FunctionRef<void(std::string_view)> on_line);

  // True when an unterminated line is buffered.
  bool HasPartialLine() const { return !line_.empty(); }

 private:
  size_t max_line_bytes_;
  std::string line_;
  bool failed_ = false;
};

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_FRAMING_H_
