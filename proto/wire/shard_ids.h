// The request ids of a shard: the wire contract the coordinator and the worker both follow
// (llmbench.v1.Shard in proto/llmbench/v1/worker.proto), in one place.
//
// - Warm-up requests have ids of their own range, so they never collide with measured ids:
//   bit 63 set, the shard index in bits 32..62, the warm-up ordinal in bits 0..31.
// - A count-bounded shard runs exactly the ids of Shard.request_ids followed by those of
//   Shard.request_ranges; ShardIds numbers them 0, 1, ... (the shard's measured index).
//
// Thread-safety: ShardIds is immutable after construction (thread-safe to read).
#ifndef LLMBENCH_PROTO_WIRE_SHARD_IDS_H_
#define LLMBENCH_PROTO_WIRE_SHARD_IDS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "google/protobuf/repeated_ptr_field.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::wire {

inline constexpr uint64_t kWarmupIdBit = uint64_t{1} << 63;

inline uint64_t WarmupRequestId(uint32_t shard_index, uint64_t ordinal) {
  return kWarmupIdBit | (static_cast<uint64_t>(shard_index & 0x7fffffffu) << 32) |
         (ordinal & 0xffffffffu);
}
inline bool IsWarmupId(uint64_t id) { return (id & kWarmupIdBit) != 0; }
inline uint32_t WarmupShardIndex(uint64_t id) {
  return static_cast<uint32_t>((id >> 32) & 0x7fffffffu);
}
inline uint64_t WarmupOrdinal(uint64_t id) { return id & 0xffffffffu; }

class ShardIds {
 public:
  // The measured ids of `shard` (none for a duration-bounded shard). Consecutive ids merge
  // into one range. REQUIRES: no range is empty or overflows (ShardIds::Check).
  explicit ShardIds(const llmbench::v1::Shard& shard);

  // "" when `shard`'s ranges are usable, else why not (for an InvalidArgument).
  static const char* Check(const llmbench::v1::Shard& shard);

  uint64_t size() const { return size_; }
  // The id at measured index j. REQUIRES: j < size().
  uint64_t IdAt(uint64_t j) const;
  // The measured index of `id`, nullopt when the shard does not have it. O(log ranges) when
  // the ranges ascend (as the coordinator makes them), else O(ranges).
  std::optional<uint64_t> IndexOf(uint64_t id) const;
  // Appends the ids at measured indices [j_begin, j_end) to `out` as ranges.
  void AppendIdRanges(uint64_t j_begin, uint64_t j_end,
                      google::protobuf::RepeatedPtrField<llmbench::v1::IdRange>* out) const;

 private:
  size_t RangeOf(uint64_t j) const;  // the range holding measured index j

  std::vector<llmbench::v1::IdRange> ranges_;
  std::vector<uint64_t> starts_;  // measured index where each range starts
  uint64_t size_ = 0;
  bool ascending_ = true;
};

}  // namespace llmbench::wire

#endif  // LLMBENCH_PROTO_WIRE_SHARD_IDS_H_
