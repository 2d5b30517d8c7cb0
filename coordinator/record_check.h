// Checks a worker's record against the shard it was sent for, before anything counts it: the
// coordinator does not trust its workers (a buggy or hostile worker must not add requests that
// were never asked for, or times that cannot be). Each problem is named, so the verdict can
// say which worker sent what.
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_COORDINATOR_RECORD_CHECK_H_
#define LLMBENCH_COORDINATOR_RECORD_CHECK_H_

#include <cstdint>
#include <string>

#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/worker.pb.h"
#include "proto/wire/shard_ids.h"

namespace llmbench::coordinator {

// How late (ns) a record's times may be beyond what the clock allows, for clock-offset error
// between the coordinator and the worker.
inline constexpr int64_t kRecordClockSlackNs = 1'000'000'000;

// "" when `record` can be a record of `shard` (whose measured ids are `ids`) that has run for
// `elapsed_ns` (shard-relative, on the coordinator's clock); else what is wrong with it:
//   - its engine is not the shard's;
//   - its id is neither a warm-up id of this shard (index and ordinal in range, and the record
//     marked warm-up) nor one of the shard's measured ids (count-bounded: one of `ids`;
//     duration-bounded: first_id + j * id_stride);
//   - a time outside [-slack, elapsed + slack], end before sent, a first token outside
//     [sent, end], a chunk offset that is negative, decreasing or after the end, or fewer
//     content chunks than offsets.
std::string RecordProblem(const llmbench::v1::RequestRecord& record,
                          const llmbench::v1::Shard& shard, const wire::ShardIds& ids,
                          int64_t elapsed_ns);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_RECORD_CHECK_H_
