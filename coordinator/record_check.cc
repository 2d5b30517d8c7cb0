#include "coordinator/record_check.h"

#include "absl/strings/str_cat.h"
#include "proto/wire/session_ids.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

std::string RecordProblem(const v1::RequestRecord& record, const v1::Shard& shard,
                          const wire::ShardIds& ids, int64_t elapsed_ns) {
  if (record.engine() != shard.engine().name()) {
    return absl::StrCat("request ", record.request_id(), ": engine \"", record.engine(),
                        "\" is not the shard's (\"", shard.engine().name(), "\")");
  }
  // Multi-turn: the shard's ids are sessions; each turn's id derives from its session's.
  uint64_t id = record.request_id();
  if (shard.has_multi_turn() || record.has_session_id() || record.has_turn_index()) {
    if (!shard.has_multi_turn() || !record.has_session_id() || !record.has_turn_index() ||
        record.turn_index() >= wire::kMaxTurnsPerSession ||
        (!wire::IsWarmupId(record.session_id()) && record.session_id() > wire::kMaxSessionId) ||
        (wire::IsWarmupId(record.session_id()) &&
         wire::WarmupOrdinal(record.session_id()) >= wire::kMaxWarmupSessions) ||
        wire::TurnRequestId(record.session_id(), record.turn_index()) != record.request_id()) {
      return absl::StrCat("request ", record.request_id(),
                          ": not a turn of a multi-turn session of shard ", shard.shard_index());
    }
    id = record.session_id();
  }
  if (wire::IsWarmupId(id)) {
    if (!record.warmup() || wire::WarmupShardIndex(id) != (shard.shard_index() & 0x7fffffffu) ||
        wire::WarmupOrdinal(id) >= shard.warmup_requests()) {
      return absl::StrCat("request ", id, " is not a warm-up request of shard ",
                          shard.shard_index());
    }
  } else if (ids.size() > 0) {
    if (!ids.IndexOf(id)) {
      return absl::StrCat("request ", id, " is not one of shard ", shard.shard_index(), "'s ids");
    }
  } else {
    const uint64_t stride = shard.id_stride() == 0 ? 1 : shard.id_stride();
    if (id < shard.first_id() || (id - shard.first_id()) % stride != 0) {
      return absl::StrCat("request ", id, " is not one of shard ", shard.shard_index(),
                          "'s ids (", shard.first_id(), " + k * ", stride, ")");
    }
  }
  const int64_t low = -kRecordClockSlackNs;
  const int64_t high = elapsed_ns + kRecordClockSlackNs;
  auto outside = [&](int64_t t) { return t < low || t > high; };
  if (outside(record.sent_ns()) || outside(record.end_ns()) ||
      (record.has_scheduled_ns() && outside(record.scheduled_ns()))) {
    return absl::StrCat("request ", id, ": a time outside the shard's ",
                        static_cast<double>(elapsed_ns) / 1e9, " s (sent ", record.sent_ns(),
                        " ns, end ", record.end_ns(), " ns)");
  }
  if (record.end_ns() < record.sent_ns()) {
    return absl::StrCat("request ", id, ": ends before it was sent");
  }
  if (record.has_first_token_ns() &&
      (record.first_token_ns() < record.sent_ns() || record.first_token_ns() > record.end_ns())) {
    return absl::StrCat("request ", id, ": first token outside [sent, end] (TTFT ",
                        static_cast<double>(record.first_token_ns() - record.sent_ns()) / 1e6,
                        " ms)");
  }
  int64_t previous = 0;
  const int64_t duration = record.end_ns() - record.sent_ns();
  for (int64_t offset : record.chunk_offsets_ns()) {
    if (offset < previous || offset > duration) {
      return absl::StrCat("request ", id, ": chunk offset ", offset,
                          " ns is negative, decreasing or after the end");
    }
    previous = offset;
  }
  if (record.content_chunks() < static_cast<uint64_t>(record.chunk_offsets_ns_size())) {
    return absl::StrCat("request ", id, ": ", record.chunk_offsets_ns_size(),
                        " chunk offsets but ", record.content_chunks(), " content chunks");
  }
  return "";
}

}  // namespace llmbench::coordinator
