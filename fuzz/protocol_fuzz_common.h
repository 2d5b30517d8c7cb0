// The shared driver of the protocol fuzz targets: decodes the header described in
// fuzz_targets.h, runs the engine's ResponseParser over the body and checks record invariants.
//
// Thread-compatible.
#ifndef LLMBENCH_FUZZ_PROTOCOL_FUZZ_COMMON_H_
#define LLMBENCH_FUZZ_PROTOCOL_FUZZ_COMMON_H_

#include <cstddef>
#include <cstdint>

#include "llmbench/v1/scenario.pb.h"

namespace llmbench::fuzz {

// Mode bits of the header's second byte.
inline constexpr uint8_t kModeNonStream = 0x01;
inline constexpr uint8_t kModeOtherApi = 0x02;
inline constexpr uint8_t kModeKindShift = 2;  // two bits
inline constexpr uint8_t kModeTransportError = 0x10;
inline constexpr uint8_t kModeJsonContentType = 0x20;
inline constexpr uint8_t kModeNoStatus = 0x40;
// The body starts with "name: value" header lines ended by an empty line.
inline constexpr uint8_t kModeHeaderBlock = 0x80;

// Runs one protocol input against `engine` (its api set by the caller from the mode byte).
void RunProtocolInput(const llmbench::v1::Engine& engine, const uint8_t* data, size_t size);

}  // namespace llmbench::fuzz

#endif  // LLMBENCH_FUZZ_PROTOCOL_FUZZ_COMMON_H_
