// RecordQueue: the bounded hand-off between the event-loop threads that produce request
// records and the one consumer (the gRPC stream, or a test) that ships them. A producer never
// blocks: when the queue is full the record is dropped and counted, so a slow reader can never
// stall the load.
//
// Thread-safety: all methods are thread-safe. Any number of producers, one consumer.
#ifndef LLMBENCH_WORKER_RECORD_QUEUE_H_
#define LLMBENCH_WORKER_RECORD_QUEUE_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "llmbench/v1/record.pb.h"

namespace llmbench::worker {

inline constexpr size_t kDefaultRecordQueueCapacity = 65536;

class RecordQueue {
 public:
  explicit RecordQueue(size_t capacity = kDefaultRecordQueueCapacity) : capacity_(capacity) {}

  // Adds `record` unless the queue holds `capacity` records; false (and counted) when dropped.
  bool TryPush(llmbench::v1::RequestRecord&& record);

  // Marks the end of production: waiting consumers wake up and see closed() once drained.
  void Close();

  // Wakes a consumer blocked in WaitPop without adding anything (e.g. the call was cancelled).
  void Interrupt();

  // Waits until at least `max_records` records are queued, the queue is closed, Interrupt()
  // is called, or the monotonic instant `deadline_ns` (steady_clock) passes; then moves up to
  // `max_records` records into `out` (appending). Returns the number moved.
  size_t WaitPop(std::vector<llmbench::v1::RequestRecord>* out, size_t max_records,
                 int64_t deadline_ns);

  // Moves up to `max_records` records without waiting.
  size_t TryPop(std::vector<llmbench::v1::RequestRecord>* out, size_t max_records);

  bool closed() const;
  // Closed and nothing left to pop.
  bool drained() const;
  size_t size() const;
  uint64_t dropped() const;
  size_t capacity() const { return capacity_; }

 private:
  size_t PopLocked(std::vector<llmbench::v1::RequestRecord>* out, size_t max_records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<llmbench::v1::RequestRecord> records_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t interrupts_ ABSL_GUARDED_BY(mu_) = 0;
  // The queue size at which the waiting consumer's predicate holds (its max_records); 0 when
  // no consumer waits. TryPush signals only then, so a consumer waiting for a batch is not
  // woken (a context switch) for every record.
  size_t wake_at_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_RECORD_QUEUE_H_
