// Request ids of multi-turn sessions: the wire contract between the coordinator and the worker
// (llmbench.v1.Shard.multi_turn, RequestRecord.session_id / turn_index), in one place.
//
// A multi-turn shard's ids (Shard.request_ids / request_ranges, or first_id + j * id_stride, and
// the warm-up ids of proto/wire/shard_ids.h) name sessions, not requests. Turn t of session s
// is the request
//   measured: s * kMaxTurnsPerSession + t;
//   warm-up:  WarmupRequestId(shard, WarmupOrdinal(s) * kMaxTurnsPerSession + t).
// So every turn has an id of its own (the coordinator's duplicate check still works), and the
// session of a record is its session_id.
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_PROTO_WIRE_SESSION_IDS_H_
#define LLMBENCH_PROTO_WIRE_SESSION_IDS_H_

#include <cstdint>

#include "proto/wire/shard_ids.h"

namespace llmbench::wire {

// Most turns a session may have (a larger conversation is cut to this many turns).
inline constexpr uint32_t kMaxTurnsPerSession = 1024;
// Most warm-up sessions of one shard (their turn ids must fit the 32-bit warm-up ordinal).
inline constexpr uint64_t kMaxWarmupSessions = (uint64_t{1} << 32) / kMaxTurnsPerSession;
// Largest measured session id (its turn ids must stay below the warm-up bit).
inline constexpr uint64_t kMaxSessionId = (kWarmupIdBit / kMaxTurnsPerSession) - 1;

// REQUIRES: turn < kMaxTurnsPerSession; a measured session_id <= kMaxSessionId; a warm-up
// session's ordinal < kMaxWarmupSessions.
inline uint64_t TurnRequestId(uint64_t session_id, uint32_t turn) {
  if (IsWarmupId(session_id)) {
    return WarmupRequestId(WarmupShardIndex(session_id),
                           WarmupOrdinal(session_id) * kMaxTurnsPerSession + turn);
  }
  return session_id * kMaxTurnsPerSession + turn;
}

}  // namespace llmbench::wire

#endif  // LLMBENCH_PROTO_WIRE_SESSION_IDS_H_
