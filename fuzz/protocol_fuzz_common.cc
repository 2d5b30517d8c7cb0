#include "fuzz/protocol_fuzz_common.h"

#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engines/engine_protocol.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/fuzz_util.h"
#include "llmbench/v1/record.pb.h"

namespace llmbench::fuzz {
namespace {

using llmbench::v1::RequestRecord;
using llmbench::engines::ResponseParser;

// Statuses the first header byte picks from (besides 200).
constexpr int kFuzzStatuses[] = {0,   100, 199, 201, 204, 299, 301, 304, 400,  401, 404,
                                 422, 429, 499, 500, 502, 503, 504, 599, 1000, -1};
constexpr int64_t kSentNs = 1'000'000;

int StatusFromByte(uint8_t b) {
  if (b < 0xC0) return 200;
  return kFuzzStatuses[(b - 0xC0) % (sizeof(kFuzzStatuses) / sizeof(kFuzzStatuses[0]))];
}

// One pass over the body. `step_ns` 0 gives every slice the same arrival time.
RequestRecord RunOnce(const llmbench::engines::EngineProtocol& protocol, const uint8_t* header,
                      std::string_view body, uint8_t slice_seed, int64_t step_ns,
                      size_t* body_fed) {
  RequestRecord record;
  record.set_sent_ns(kSentNs);
  std::unique_ptr<ResponseParser> parser = protocol.NewParser(&record);
  const uint8_t mode = header[1];
  if ((mode & kModeNoStatus) == 0) {
    std::vector<std::pair<std::string, std::string>> headers;
    headers.emplace_back("content-type", (mode & kModeJsonContentType) != 0
                                             ? "application/json"
                                             : "text/event-stream");
    if ((mode & kModeHeaderBlock) != 0) {
      // "name: value" lines up to the first empty line are response headers.
      while (!body.empty()) {
        const size_t eol = body.find('\n');
        const std::string_view line = body.substr(0, eol);
        body.remove_prefix(eol == std::string_view::npos ? body.size() : eol + 1);
        if (line.empty()) break;
        const size_t colon = line.find(':');
        std::string name(line.substr(0, colon));
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value =
            colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        headers.emplace_back(std::move(name), std::string(value));
      }
    }
    parser->OnStatus(StatusFromByte(header[0]), headers);
  }
  *body_fed = body.size();
  Slicer slicer(body, slice_seed);
  std::string_view slice;
  int64_t now_ns = kSentNs + 5;
  while (slicer.Next(&slice)) {
    parser->OnBody(slice, now_ns);
    now_ns += step_ns;
  }
  ResponseParser::TransportError transport_error;
  if ((mode & kModeTransportError) != 0) {
    transport_error.error_class = llmbench::v1::ERROR_CLASS_TIMEOUT;
    transport_error.message = "Operation timed out after 1000 milliseconds";
  }
  parser->Finish(transport_error);
  return record;
}

void CheckRecord(const RequestRecord& record, size_t body_size) {
  LLMBENCH_FUZZ_CHECK(record.content_chunks() ==
                          static_cast<uint64_t>(record.chunk_offsets_ns_size()),
                      "content_chunks != chunk_offsets_ns size");
  for (int i = 1; i < record.chunk_offsets_ns_size(); ++i) {
    LLMBENCH_FUZZ_CHECK(record.chunk_offsets_ns(i - 1) <= record.chunk_offsets_ns(i),
                        "chunk offsets decrease");
  }
  if (record.chunk_offsets_ns_size() > 0) {
    LLMBENCH_FUZZ_CHECK(record.has_first_token_ns(), "chunks without first_token_ns");
    LLMBENCH_FUZZ_CHECK(record.first_token_ns() - record.sent_ns() == record.chunk_offsets_ns(0),
                        "first_token_ns is not the first chunk");
  } else {
    LLMBENCH_FUZZ_CHECK(!record.has_first_token_ns(), "first_token_ns without chunks");
  }
  LLMBENCH_FUZZ_CHECK(record.bytes_received() == body_size, "bytes_received != body size");
  LLMBENCH_FUZZ_CHECK(record.error_message().size() <= llmbench::engines::kMaxErrorMessageBytes,
                      "error message above the cap");
  LLMBENCH_FUZZ_CHECK(IsValidUtf8(record.error_message()), "error message is not UTF-8");
  LLMBENCH_FUZZ_CHECK(IsValidUtf8(record.finish_reason()), "finish_reason is not UTF-8");
  if (record.error_class() == llmbench::v1::ERROR_CLASS_NONE) {
    LLMBENCH_FUZZ_CHECK(record.error_message().empty(), "error message without error class");
  }
  if (record.has_output_tokens_reported()) {
    LLMBENCH_FUZZ_CHECK(record.output_token_source() == llmbench::v1::TOKEN_SOURCE_ENGINE &&
                            record.output_tokens() == record.output_tokens_reported(),
                        "engine token count not used");
  } else {
    LLMBENCH_FUZZ_CHECK(record.output_token_source() == llmbench::v1::TOKEN_SOURCE_CHUNKS &&
                            record.output_tokens() == record.content_chunks(),
                        "chunk token count not used");
  }
  std::string wire;
  LLMBENCH_FUZZ_CHECK(record.SerializeToString(&wire), "record does not serialize");
}

}  // namespace

void RunProtocolInput(const llmbench::v1::Engine& engine, const uint8_t* data, size_t size) {
  if (size < kProtocolHeaderBytes) return;
  const uint8_t* header = data;
  const std::string_view body(reinterpret_cast<const char*>(data) + kProtocolHeaderBytes,
                              size - kProtocolHeaderBytes);
  llmbench::v1::Generation generation;
  generation.set_stream((header[1] & kModeNonStream) == 0);
  auto protocol = llmbench::engines::MakeEngineProtocol(engine, generation);
  LLMBENCH_FUZZ_CHECK(protocol.ok(), "MakeEngineProtocol failed for a valid engine");

  // Timed pass: slices arrive 7 ns apart.
  size_t fed = 0;
  const RequestRecord timed = RunOnce(**protocol, header, body, header[2], 7, &fed);
  CheckRecord(timed, fed);
  // Slicing must not matter: one slice vs the seeded slices, all at the same instant.
  const RequestRecord whole = RunOnce(**protocol, header, body, 0, 0, &fed);
  CheckRecord(whole, fed);
  const RequestRecord sliced =
      RunOnce(**protocol, header, body, header[2] == 0 ? 1 : header[2], 0, &fed);
  LLMBENCH_FUZZ_CHECK(whole.SerializeAsString() == sliced.SerializeAsString(),
                      "record depends on how the body was sliced");
  LLMBENCH_FUZZ_CHECK(whole.error_class() == timed.error_class() &&
                          whole.content_chunks() == timed.content_chunks(),
                      "record depends on arrival times");
}

}  // namespace llmbench::fuzz
