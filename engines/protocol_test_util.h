// Test helpers for the engine protocol parsers: fixture loading and a driver that feeds a
// response body to a parser in different chunkings with synthetic timestamps.
//
// Timestamps: a slice ending at body byte index i (0-based, inclusive) arrives at
// kSentNs + kNsPerByte * (i + 1). A content event therefore gets, in one-byte chunking, the
// offset kNsPerByte * (index of its terminating byte + 1); coarser chunkings deliver it later
// (at the end of the slice holding that byte), never earlier.
#ifndef LLMBENCH_ENGINES_PROTOCOL_TEST_UTIL_H_
#define LLMBENCH_ENGINES_PROTOCOL_TEST_UTIL_H_

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "engines/engine_protocol.h"
#include "engines/protocol_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "llmbench/v1/record.pb.h"

namespace llmbench::engines::testing {

inline constexpr int64_t kSentNs = 5'000'000;
inline constexpr int64_t kNsPerByte = 10;

inline std::string ReadFixture(std::string_view relative) {
  const std::string path =
      std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/engines/" + std::string(relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "missing fixture " << path;
    return "";
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

enum class Chunking { kWhole, kOneByte, kRandom };

struct FeedOptions {
  int http_status = 200;
  HeaderList headers;
  ResponseParser::TransportError transport_error;
  uint32_t seed = 1;  // kRandom slice sizes (1..97 bytes)
};

inline llmbench::v1::RequestRecord RunParser(const EngineProtocol& protocol, std::string_view body,
                                             Chunking chunking, const FeedOptions& options = {}) {
  llmbench::v1::RequestRecord record;
  record.set_sent_ns(kSentNs);
  auto parser = protocol.NewParser(&record);
  parser->OnStatus(options.http_status, options.headers);
  std::mt19937 rng(options.seed);
  std::uniform_int_distribution<size_t> size_dist(1, 97);
  size_t pos = 0;
  while (pos < body.size()) {
    size_t n = body.size() - pos;
    if (chunking == Chunking::kOneByte) n = 1;
    if (chunking == Chunking::kRandom) n = std::min(n, size_dist(rng));
    parser->OnBody(body.substr(pos, n), kSentNs + kNsPerByte * static_cast<int64_t>(pos + n));
    pos += n;
  }
  parser->Finish(options.transport_error);
  return record;
}

// The record without its arrival times (which depend on the chunking).
inline llmbench::v1::RequestRecord WithoutTimes(llmbench::v1::RequestRecord record) {
  record.clear_first_token_ns();
  record.clear_chunk_offsets_ns();
  return record;
}

// Runs `body` whole, one byte at a time and in three seeded random chunkings; expects the same
// record (apart from arrival times, which may only be later than one-byte chunking's) from
// each, and returns the one-byte record, whose times are exact.
inline llmbench::v1::RequestRecord RunAllChunkings(const EngineProtocol& protocol,
                                                   std::string_view body,
                                                   FeedOptions options = {}) {
  const llmbench::v1::RequestRecord exact = RunParser(protocol, body, Chunking::kOneByte, options);
  std::vector<llmbench::v1::RequestRecord> others;
  others.push_back(RunParser(protocol, body, Chunking::kWhole, options));
  for (uint32_t seed : {1u, 2u, 3u}) {
    options.seed = seed;
    others.push_back(RunParser(protocol, body, Chunking::kRandom, options));
  }
  for (const auto& other : others) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(WithoutTimes(exact),
                                                                    WithoutTimes(other)))
        << "one-byte:\n"
        << WithoutTimes(exact).DebugString() << "other:\n"
        << WithoutTimes(other).DebugString();
    EXPECT_EQ(other.chunk_offsets_ns_size(), exact.chunk_offsets_ns_size());
    for (int i = 0; i < std::min(other.chunk_offsets_ns_size(), exact.chunk_offsets_ns_size());
         ++i) {
      EXPECT_GE(other.chunk_offsets_ns(i), exact.chunk_offsets_ns(i)) << "chunk " << i;
    }
  }
  return exact;
}

// Offsets (ns after sent) at which one-byte chunking completes each event of `body`: an event
// ends at the last byte of `separator` ("\n" for NDJSON lines, "\n\n" for SSE events).
inline std::vector<int64_t> EventEndOffsets(std::string_view body, std::string_view separator) {
  std::vector<int64_t> offsets;
  size_t pos = 0;
  while ((pos = body.find(separator, pos)) != std::string_view::npos) {
    pos += separator.size();
    offsets.push_back(kNsPerByte * static_cast<int64_t>(pos));
  }
  return offsets;
}

// The entries of `all` at `indices`.
inline std::vector<int64_t> Select(const std::vector<int64_t>& all,
                                   const std::vector<size_t>& indices) {
  std::vector<int64_t> out;
  for (size_t i : indices) out.push_back(i < all.size() ? all[i] : -1);
  return out;
}

inline std::vector<int64_t> Offsets(const llmbench::v1::RequestRecord& record) {
  return {record.chunk_offsets_ns().begin(), record.chunk_offsets_ns().end()};
}

}  // namespace llmbench::engines::testing

#endif  // LLMBENCH_ENGINES_PROTOCOL_TEST_UTIL_H_
