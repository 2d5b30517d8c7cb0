#include "proto/wire/shard_ids.h"

#include <algorithm>
#include <limits>

namespace llmbench::wire {

ShardIds::ShardIds(const llmbench::v1::Shard& shard) {
  auto add = [this](uint64_t first, uint64_t count) {
    if (!ranges_.empty() && ranges_.back().first() + ranges_.back().count() == first) {
      ranges_.back().set_count(ranges_.back().count() + count);
    } else {
      starts_.push_back(size_);
      ranges_.emplace_back();
      ranges_.back().set_first(first);
      ranges_.back().set_count(count);
    }
    size_ += count;
  };
  for (uint64_t id : shard.request_ids()) add(id, 1);
  for (const llmbench::v1::IdRange& r : shard.request_ranges()) add(r.first(), r.count());
  for (size_t r = 1; r < ranges_.size(); ++r) {
    if (ranges_[r].first() < ranges_[r - 1].first() + ranges_[r - 1].count()) ascending_ = false;
  }
}

const char* ShardIds::Check(const llmbench::v1::Shard& shard) {
  uint64_t total = static_cast<uint64_t>(shard.request_ids_size());
  for (const llmbench::v1::IdRange& r : shard.request_ranges()) {
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    if (r.count() == 0 || r.first() > kMax - r.count() || total > kMax - r.count()) {
      return "shard.request_ranges: a range is empty or overflows";
    }
    total += r.count();
  }
  return "";
}

size_t ShardIds::RangeOf(uint64_t j) const {
  return static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), j) -
                             starts_.begin() - 1);
}

uint64_t ShardIds::IdAt(uint64_t j) const {
  const size_t r = RangeOf(j);
  return ranges_[r].first() + (j - starts_[r]);
}

std::optional<uint64_t> ShardIds::IndexOf(uint64_t id) const {
  auto index_in = [&](size_t r) -> std::optional<uint64_t> {
    const llmbench::v1::IdRange& range = ranges_[r];
    if (id >= range.first() && id - range.first() < range.count()) {
      return starts_[r] + (id - range.first());
    }
    return std::nullopt;
  };
  if (ascending_) {
    const auto it = std::upper_bound(
        ranges_.begin(), ranges_.end(), id,
        [](uint64_t v, const llmbench::v1::IdRange& range) { return v < range.first(); });
    if (it == ranges_.begin()) return std::nullopt;
    return index_in(static_cast<size_t>(it - ranges_.begin() - 1));
  }
  for (size_t r = 0; r < ranges_.size(); ++r) {
    if (std::optional<uint64_t> j = index_in(r)) return j;
  }
  return std::nullopt;
}

void ShardIds::AppendIdRanges(uint64_t j_begin, uint64_t j_end,
                              google::protobuf::RepeatedPtrField<llmbench::v1::IdRange>* out) const {
  j_end = std::min(j_end, size_);
  while (j_begin < j_end) {
    const size_t r = RangeOf(j_begin);
    const uint64_t stop = std::min(j_end, starts_[r] + ranges_[r].count());
    const uint64_t first = ranges_[r].first() + (j_begin - starts_[r]);
    if (!out->empty() && out->rbegin()->first() + out->rbegin()->count() == first) {
      out->rbegin()->set_count(out->rbegin()->count() + (stop - j_begin));
    } else {
      llmbench::v1::IdRange* added = out->Add();
      added->set_first(first);
      added->set_count(stop - j_begin);
    }
    j_begin = stop;
  }
}

}  // namespace llmbench::wire
