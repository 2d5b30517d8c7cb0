// ShardRunner: runs one llmbench.v1.Shard against its engine and produces one RequestRecord per
// request into a bounded RecordQueue. Independent of gRPC, so tests and benchmarks drive it
// directly; the gRPC service (worker_service.h) streams its queue.
//
// How a shard runs:
//   * Threads: `loop_threads` event loops (fewer for a closed loop with a smaller concurrency),
//     each owning an EventLoop and a Transport (worker/transport.h: the HTTP/1.1 client for
//     http://, libcurl for the rest). The caller's thread is never used.
//   * Loop windows: every second from the start instant each loop records how much of the
//     second it spent outside epoll_wait, on the CPU and waiting for a CPU
//     (ShardSummary.loop_windows), so a loop saturated in any one second can be told.
//   * Start instant: Shard.start_unix_ns on this host's wall clock, converted once to the
//     monotonic clock; when it is 0 or in the past the shard starts now. Every time in a record
//     is monotonic ns relative to that instant.
//   * Closed loop (ShardLoad.concurrency = N): N is split over the loops; each keeps its share
//     in flight and takes the next request index from a shared counter. A slot whose request
//     failed waits 10 ms * 2^(n-1) before it sends again (n = consecutive failures on its
//     loop, reset by a success; at most 1 s), so a dead engine is not hammered: the wait is no
//     request's latency and not load (not in flight). ShardSummary.backoffs counts the waits.
//   * Open loop (ShardLoad.rate): one arrival sequence from MakeArrivalSchedule(rate, seed);
//     loop i sends arrivals i, i+L, i+2L, ... at their scheduled times. A request whose time
//     has passed is sent at once and keeps its scheduled_ns (lateness = sent − scheduled): the
//     generator never queues silently and never drops. In-flight requests are not capped. A
//     loop that fell behind sends overdue arrivals at most 64 per loop turn, handling ready
//     sockets in between (so completions free their connections for the next batch); the
//     connection cache keeps up to max(256, max_concurrency) idle connections.
//   * Trace replay (ShardLoad.trace): open loop as above, the arrival times from TraceSchedule
//     (proto/wire/trace_schedule.h): each id's own trace time, so the shard's requests keep their
//     absolute times whatever the worker count.
//   * Request indices k = 0, 1, 2, ...: the first `warmup_requests` are warm-up requests
//     (warmup = true) with ids wire::WarmupRequestId(shard_index, k) (proto/wire/shard_ids.h);
//     then, count-bounded
//     (request_ids or request_ranges not empty): the (k - warmup_requests)-th id of request_ids
//     then request_ranges, exactly once each;
//     duration-bounded: first_id + j * id_stride (id_stride 0 means 1), j = k − warmup_requests.
//     Request id `id` uses prompts[id % prompts_size].
//   * Bounds: count-bounded shards end when every id has finished; duration-bounded shards stop
//     dispatching `warmup_seconds + duration_seconds` after the start (open loop: by scheduled
//     time; closed loop: by dispatch time); requests in flight then are allowed to finish (up to
//     the engine's total timeout). When both are given, whichever ends first. warmup_seconds
//     marks requests dispatched in the first warmup_seconds as warm-up (duration-bounded
//     shards only; count-bounded shards use warmup_requests).
//   * Cancel(): dispatch stops, in-flight requests are aborted and recorded as
//     ERROR_CLASS_CANCELLED, and the summary lists the count-bounded ids that did not finish.
//   * Multi-turn (Shard.multi_turn set): the ids above name sessions, not requests; session id
//     `id` runs prompts[id % prompts_size]'s turns in order on one loop (worker/conversation.h),
//     turn t as request wire::TurnRequestId(id, t) (proto/wire/session_ids.h), each turn sent
//     with the history (earlier user turns and the engine's actual replies) after the think
//     time that follows the previous reply. Load unit sessions: a closed-loop slot holds a
//     session from its first turn to its end (think times included); an open-loop arrival
//     starts a session, whose later turns follow their replies. Load unit requests: a
//     closed-loop slot holds one turn in flight and a free slot sends the oldest turn whose
//     think time is over, else starts a session; an open-loop arrival does the same (an
//     arrival with neither sends nothing). A failed turn ends its session (record
//     session_end); so does the last turn. A duration-bounded shard sends no turn after its
//     end; sessions cut there, or by Cancel(), are interrupted (no session_end). Count-bounded:
//     a session whose first turn never finished is unfinished (it may run elsewhere whole);
//     one that started is never unfinished.
//   * Records go into a RecordQueue (bounded, never blocks a loop): overflow is dropped and
//     counted in ShardSummary.records_dropped.
//
// Thread-safety: Start, Cancel, Join, progress(), summary() and records() are thread-safe.
// Lifetime: the destructor cancels and joins.
#ifndef LLMBENCH_WORKER_SHARD_RUNNER_H_
#define LLMBENCH_WORKER_SHARD_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "engines/engine_protocol.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/worker.pb.h"
#include "proto/wire/shard_ids.h"
#include "worker/api_keys.h"
#include "worker/record_queue.h"

namespace llmbench::worker {

// What the loop thread saw when it dispatched one open-loop arrival (times are shard-relative
// ns, as in RequestRecord). With the record's sent_ns this splits lateness (sent - scheduled)
// into: the kernel waking the loop late (wake - max(scheduled, wait_start): timer expiry plus
// scheduling delay), the loop being busy with earlier work when the arrival fell due
// (wait_start - scheduled, when positive), and this turn's processing until the request went
// out (sent - wake). Of the processing, turn_cpu_ns is what the loop thread actually ran;
// (flushed - wake) - turn_cpu_ns is time it was runnable or interrupted but not running.
struct DispatchTrace {
  uint64_t request_id = 0;
  int64_t scheduled_ns = 0;
  int64_t wait_start_ns = 0;  // the loop's last epoll_wait began (EventLoop::wait_start_ns)
  int64_t wake_ns = 0;        // and returned (EventLoop::wake_ns)
  int64_t dispatch_ns = 0;    // Dispatch began
  int64_t flushed_ns = 0;     // every arrival of this turn's batch was handed to curl
  int64_t turn_cpu_ns = 0;    // loop thread CPU time from wake to flushed
};

struct ShardRunnerOptions {
  uint32_t loop_threads = 1;         // event-loop threads (>= 1)
  uint32_t max_concurrency = 10000;  // largest closed-loop concurrency accepted
  size_t queue_capacity = kDefaultRecordQueueCapacity;
  std::string worker_id;             // copied into every record
  // Which Engine.api_key_env names this worker may send (worker/api_keys.h).
  ApiKeyPolicy api_keys;
  // Benchmark/debug hook, off when empty: called on the loop thread for every open-loop
  // arrival, once its dispatch batch was handed to curl. It must be cheap and must not block.
  // Turning it on costs two clock_gettime(CLOCK_THREAD_CPUTIME_ID) calls per loop turn.
  std::function<void(const DispatchTrace&)> dispatch_trace;
};

class ShardRunner {
 public:
  // Validates `shard` (InvalidArgument naming the field otherwise: header names must be HTTP
  // tokens and values free of CR, LF and NUL), builds the engine protocol and reads the API key
  // from the environment as options.api_keys allows. Sends nothing.
  // Every record's error_message and finish_reason (engine text) has the API key's value
  // replaced by "[redacted]" (common/text_safety.h): an engine that echoes a wrong key back
  // does not put it into records, results or logs.
  static absl::StatusOr<std::unique_ptr<ShardRunner>> Create(llmbench::v1::Shard shard,
                                                             ShardRunnerOptions options);
  ~ShardRunner();
  ShardRunner(const ShardRunner&) = delete;
  ShardRunner& operator=(const ShardRunner&) = delete;

  // Starts the loop threads; the first requests go out at the start instant.
  // REQUIRES: called once.
  absl::Status Start();
  // Stops the shard (see above). Safe to call at any time, more than once.
  void Cancel();
  // Waits for the loop threads to end (the shard finished or was cancelled).
  void Join();

  // The records, in completion order. The queue is closed once the shard is done.
  RecordQueue& records() { return queue_; }
  bool done() const { return done_.load(std::memory_order_acquire); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  llmbench::v1::Progress progress() const;
  // The summary so far; final once done(). records_sent counts records accepted by the queue.
  llmbench::v1::ShardSummary summary() const;

  const llmbench::v1::Shard& shard() const { return shard_; }
  // Loop threads this shard uses (known after Create).
  uint32_t loop_count() const { return loop_count_; }
  // Connections curl opened for finished requests (CURLINFO_NUM_CONNECTS summed): about the
  // number of connections when the pool works, about the request count when it does not.
  uint64_t connections_opened() const { return connections_opened_.load(); }

 private:
  struct Loop;
  friend struct Loop;

  ShardRunner(llmbench::v1::Shard shard, ShardRunnerOptions options,
              std::unique_ptr<engines::EngineProtocol> protocol, std::string api_key);

  // Index k → request id / warm-up flag.
  uint64_t RequestIdFor(uint64_t k) const;

  // Whether index k (dispatched at `t_rel_ns`, shard-relative) is within the shard's bounds.
  bool InBounds(uint64_t k, int64_t t_rel_ns) const;
  void OnRecord(llmbench::v1::RequestRecord&& record);
  void OnLoopFinished();
  // Marks measured index j (k - warmup_count_) as unfinished.
  void AddUnfinished(uint64_t j);
  void AddUnfinishedRange(uint64_t j_begin, uint64_t j_end);
  void AddLoopWindow(llmbench::v1::LoopWindow window);
  absl::Status StartLoops();
  // Multi-turn limits (proto/wire/session_ids.h): InvalidArgument naming the field.
  static absl::Status CheckMultiTurnShard(const llmbench::v1::Shard& shard);

  const llmbench::v1::Shard shard_;
  const ShardRunnerOptions options_;
  const std::unique_ptr<engines::EngineProtocol> protocol_;
  const std::string api_key_;
  const bool open_loop_;
  const uint64_t warmup_count_;
  const wire::ShardIds ids_;       // count-bounded: the measured ids (empty otherwise)
  const uint64_t total_count_;    // warm-up + measured; 0 when duration-bounded only
  const bool count_bounded_;
  const int64_t end_rel_ns_;      // dispatch ends here (duration-bounded), else INT64_MAX
  const int64_t warmup_rel_ns_;
  const bool multi_turn_;     // Shard.multi_turn set
  const bool session_unit_;   // multi-turn load unit sessions
  const bool turn_arrivals_;  // multi-turn open loop, load unit requests
  uint32_t loop_count_ = 1;
  uint32_t export_reply_bytes_ = 0;  // multi-turn: reply bytes kept in records (outputs.text)

  RecordQueue queue_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<bool> started_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint32_t> loops_finished_{0};
  std::atomic<uint64_t> next_index_{0};  // closed loop: next request index to claim

  std::atomic<int64_t> epoch_ns_{0};  // monotonic start instant
  std::atomic<int64_t> end_ns_{0};    // monotonic end instant (0 while running)
  std::atomic<uint64_t> requests_sent_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> output_tokens_{0};
  std::atomic<uint64_t> records_accepted_{0};
  std::atomic<int64_t> max_lateness_ns_{0};
  std::atomic<uint64_t> connections_opened_{0};
  std::atomic<uint64_t> backoffs_{0};  // closed-loop slot waits after a failed request
  std::atomic<double> cpu_start_seconds_{0};
  std::atomic<int64_t> cpu_start_mono_ns_{0};  // when cpu_start_seconds_ was read
  std::atomic<double> cpu_end_seconds_{0};

  mutable std::mutex mu_;
  // Count-bounded: bit j set = measured index j has no final record (one bit per request,
  // allocated when the first one is marked).
  std::vector<bool> unfinished_ ABSL_GUARDED_BY(mu_);
  std::vector<llmbench::v1::LoopWindow> loop_windows_ ABSL_GUARDED_BY(mu_);
};

// Process CPU time (user + system) in seconds, from getrusage(RUSAGE_SELF).
double ProcessCpuSeconds();

// The monotonic instant (on `clock`) at which a shard agreed to start at `start_unix_ns` (wall
// clock) begins: that instant when it is still ahead, else now (a late or unset start begins at
// once). ShardRunner::Start uses SteadyClock, whose NowNs is the event loop's CLOCK_MONOTONIC.
int64_t StartInstantNs(const Clock& clock, int64_t start_unix_ns);

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_SHARD_RUNNER_H_
