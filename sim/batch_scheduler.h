// The simulator's latency model: a continuous-batching engine driven by explicit time.
//
// A request is admitted when fewer than max_batch sequences are running (prefilling or
// decoding), otherwise it waits in a FIFO queue. On admission its prefill takes
// ttft_base + ttft_per_token * prompt_tokens; then its first token is emitted (the TTFT point)
// and it joins the decode batch at the next step. Each decode step lasts
// itl + itl_per_seq * (sequences in the step), evaluated when the step starts, and gives one
// token to every sequence that was in the batch when the step started. A sequence that has all
// its tokens leaves and frees its slot at that instant, admitting the head of the queue.
// All times are *intended* times: a late AdvanceTo catches up without drifting, so the model is
// exactly deterministic when jitter is 0.
//
// Backpressure (SetStalled): the server stalls a sequence whose client is not draining its
// socket. A stalled sequence keeps its batch slot (it counts in running() and against max_batch,
// as a request whose HTTP send is blocked stays RUNNING in a real engine) but decode steps skip
// it: a step gives tokens only to the sequences that were not stalled when it started, and its
// duration counts only those (batch = unstalled members). A sequence stalled during a step still
// gets that step's token. When every decoding sequence is stalled no step runs (no timer spins);
// the first un-stall starts a step at that instant. Stalling never emits or drops a token, so a
// stalled stream resumes exactly where it stopped, with a longer gap (seen as inter-token latency).
//
// Thread-safety: not thread-safe; the owner serialises calls. No clock inside: callers pass
// "now" explicitly, so tests drive it by hand.
#ifndef LLMBENCH_SIM_BATCH_SCHEDULER_H_
#define LLMBENCH_SIM_BATCH_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <limits>
#include <queue>
#include <unordered_map>
#include <vector>

namespace llmbench::sim {

struct LatencyParams {
  double ttft_base_ms = 20;
  double ttft_per_token_us = 50;
  double itl_ms = 10;
  double itl_per_seq_us = 20;
  int max_batch = 256;
  double jitter = 0;  // relative, uniform in [-jitter, +jitter]
  uint64_t seed = 42;
};

// What AdvanceTo reports, in intended-time order.
struct SchedulerEvent {
  enum class Kind { kToken, kStep };
  Kind kind = Kind::kToken;
  uint64_t seq = 0;         // kToken: the sequence
  int64_t at_ns = 0;        // kToken: emission time; kStep: step start
  int token_index = 0;      // kToken: 0 for the first token
  bool last = false;        // kToken: the sequence is complete after this token
  int64_t admitted_ns = 0;  // kToken: when the sequence left the queue
  int64_t duration_ns = 0;  // kStep: planned step duration
  int batch = 0;            // kStep: sequences in the step
};

class BatchScheduler {
 public:
  static constexpr int64_t kIdle = std::numeric_limits<int64_t>::max();

  explicit BatchScheduler(const LatencyParams& params);

  // Enqueues a sequence arriving at now_ns. output_tokens >= 1. Returns its id (from 1).
  uint64_t Submit(int64_t now_ns, int prompt_tokens, int output_tokens);
  // Removes a sequence wherever it is; its slot frees at now_ns. Unknown ids are ignored.
  void Cancel(int64_t now_ns, uint64_t seq);
  // Marks a running (or queued) sequence as stalled or not (see the backpressure rule above).
  // Unknown ids and no-op changes are ignored.
  void SetStalled(int64_t now_ns, uint64_t seq, bool stalled);
  // Processes everything due at or before now_ns, appending events in time order. Stops before
  // the end of a decode step once `max_step_ends` steps have ended in this call, so a caller can
  // deliver each step's tokens (and apply backpressure) before the next; later calls catch up
  // without drift.
  void AdvanceTo(int64_t now_ns, std::vector<SchedulerEvent>& events,
                 int max_step_ends = std::numeric_limits<int>::max());
  // Intended time of the next action, or kIdle.
  int64_t NextDeadlineNs() const;

  int running() const { return running_; }
  int waiting() const { return static_cast<int>(queue_.size()); }
  int decoding() const { return static_cast<int>(batch_.size() + joining_.size()); }
  int stalled() const { return stalled_; }

  // Planned durations (without jitter) — exposed for tests.
  int64_t PrefillNs(int prompt_tokens) const;
  int64_t StepNs(int batch) const;

 private:
  struct Seq {
    int prompt_tokens = 0;
    int output_tokens = 0;
    int emitted = 0;
    int64_t admitted_ns = 0;
    bool in_queue = true;
    bool stalled = false;
    bool in_step = false;  // decoding in the current step (not stalled when it started)
  };
  struct PrefillDone {
    int64_t at_ns;
    uint64_t seq;
    bool operator>(const PrefillDone& o) const {
      return at_ns != o.at_ns ? at_ns > o.at_ns : seq > o.seq;
    }
  };

  double Jitter();
  void Admit(int64_t now_ns, uint64_t id, Seq& seq);
  void Erase(std::unordered_map<uint64_t, Seq>::iterator it);
  void AdmitFromQueue(int64_t now_ns);
  void FinishPrefill(int64_t at_ns, uint64_t id, std::vector<SchedulerEvent>& events);
  void EndStep(std::vector<SchedulerEvent>& events);
  void StartStep(int64_t at_ns, std::vector<SchedulerEvent>& events);

  LatencyParams params_;
  uint64_t rng_state_;
  uint64_t next_id_ = 1;
  int running_ = 0;
  int stalled_ = 0;
  std::unordered_map<uint64_t, Seq> seqs_;
  std::deque<uint64_t> queue_;
  std::priority_queue<PrefillDone, std::vector<PrefillDone>, std::greater<>> prefill_;
  std::vector<uint64_t> batch_;    // members of the current (or next) step
  std::vector<uint64_t> joining_;  // finished prefill during a step; join the next one
  bool step_active_ = false;
  int64_t step_end_ns_ = 0;
  bool step_pending_ = false;  // a step should start at step_pending_ns_
  int64_t step_pending_ns_ = 0;
};

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_BATCH_SCHEDULER_H_
