#include "sim/batch_scheduler.h"

#include <algorithm>
#include <cmath>

namespace llmbench::sim {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

BatchScheduler::BatchScheduler(const LatencyParams& params)
    : params_(params), rng_state_(params.seed ^ 0x5eed5c4edULL) {
  if (params_.max_batch < 1) params_.max_batch = 1;
}

double BatchScheduler::Jitter() {
  if (params_.jitter <= 0) return 1.0;
  const double u = static_cast<double>(SplitMix64(rng_state_) >> 11) * 0x1.0p-53;
  return 1.0 + params_.jitter * (2.0 * u - 1.0);
}

int64_t BatchScheduler::PrefillNs(int prompt_tokens) const {
  return std::llround(params_.ttft_base_ms * 1e6 + params_.ttft_per_token_us * 1e3 * prompt_tokens);
}

int64_t BatchScheduler::StepNs(int batch) const {
  return std::llround(params_.itl_ms * 1e6 + params_.itl_per_seq_us * 1e3 * batch);
}

uint64_t BatchScheduler::Submit(int64_t now_ns, int prompt_tokens, int output_tokens) {
  const uint64_t id = next_id_++;
  Seq& seq = seqs_[id];
  seq.prompt_tokens = std::max(prompt_tokens, 0);
  seq.output_tokens = std::max(output_tokens, 1);
  if (queue_.empty() && running_ < params_.max_batch) {
    Admit(now_ns, id, seq);
  } else {
    queue_.push_back(id);
  }
  return id;
}

void BatchScheduler::Admit(int64_t now_ns, uint64_t id, Seq& seq) {
  seq.in_queue = false;
  seq.admitted_ns = now_ns;
  ++running_;
  const auto dur = static_cast<int64_t>(static_cast<double>(PrefillNs(seq.prompt_tokens)) * Jitter());
  prefill_.push({now_ns + std::max<int64_t>(dur, 0), id});
}

void BatchScheduler::AdmitFromQueue(int64_t now_ns) {
  while (running_ < params_.max_batch && !queue_.empty()) {
    const uint64_t id = queue_.front();
    queue_.pop_front();
    auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;
    Admit(now_ns, id, it->second);
  }
}

void BatchScheduler::Erase(std::unordered_map<uint64_t, Seq>::iterator it) {
  if (it->second.stalled) --stalled_;
  seqs_.erase(it);
}

void BatchScheduler::SetStalled(int64_t now_ns, uint64_t id, bool stalled) {
  auto it = seqs_.find(id);
  if (it == seqs_.end() || it->second.stalled == stalled) return;
  it->second.stalled = stalled;
  stalled_ += stalled ? 1 : -1;
  // An un-stalled decoding sequence restarts an idle engine now.
  if (!stalled && !it->second.in_queue && !step_active_ && !step_pending_ &&
      (!batch_.empty() || !joining_.empty())) {
    step_pending_ = true;
    step_pending_ns_ = now_ns;
  }
}

void BatchScheduler::Cancel(int64_t now_ns, uint64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  const bool was_queued = it->second.in_queue;
  Erase(it);
  if (was_queued) {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
    return;
  }
  // Stale entries in prefill_/batch_ are skipped lazily; joining_ is cleaned here.
  joining_.erase(std::remove(joining_.begin(), joining_.end(), id), joining_.end());
  --running_;
  AdmitFromQueue(now_ns);
}

void BatchScheduler::FinishPrefill(int64_t at_ns, uint64_t id, std::vector<SchedulerEvent>& events) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;  // cancelled
  Seq& seq = it->second;
  seq.emitted = 1;
  const bool last = seq.output_tokens <= 1;
  SchedulerEvent ev;
  ev.kind = SchedulerEvent::Kind::kToken;
  ev.seq = id;
  ev.at_ns = at_ns;
  ev.token_index = 0;
  ev.last = last;
  ev.admitted_ns = seq.admitted_ns;
  events.push_back(ev);
  if (last) {
    Erase(it);
    --running_;
    AdmitFromQueue(at_ns);
    return;
  }
  joining_.push_back(id);
  if (!step_active_ && !step_pending_) {
    step_pending_ = true;
    step_pending_ns_ = at_ns;
  }
}

void BatchScheduler::StartStep(int64_t at_ns, std::vector<SchedulerEvent>& events) {
  step_pending_ = false;
  batch_.insert(batch_.end(), joining_.begin(), joining_.end());
  joining_.clear();
  // Drop cancelled members; mark the unstalled ones as this step's.
  size_t keep = 0;
  int batch = 0;
  for (const uint64_t id : batch_) {
    auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;
    batch_[keep++] = id;
    it->second.in_step = !it->second.stalled;
    if (it->second.in_step) ++batch;
  }
  batch_.resize(keep);
  if (batch == 0) return;  // empty or fully stalled: SetStalled(false) restarts
  const auto dur = std::max<int64_t>(
      static_cast<int64_t>(static_cast<double>(StepNs(batch)) * Jitter()), 1);
  step_active_ = true;
  step_end_ns_ = at_ns + dur;
  SchedulerEvent ev;
  ev.kind = SchedulerEvent::Kind::kStep;
  ev.at_ns = at_ns;
  ev.duration_ns = dur;
  ev.batch = batch;
  events.push_back(ev);
}

void BatchScheduler::EndStep(std::vector<SchedulerEvent>& events) {
  const int64_t t = step_end_ns_;
  step_active_ = false;
  size_t keep = 0;
  int freed = 0;
  for (size_t i = 0; i < batch_.size(); ++i) {
    const uint64_t id = batch_[i];
    auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;  // cancelled during the step
    Seq& seq = it->second;
    if (!seq.in_step) {  // stalled when the step started: no token, stays in the batch
      batch_[keep++] = id;
      continue;
    }
    seq.in_step = false;
    SchedulerEvent ev;
    ev.kind = SchedulerEvent::Kind::kToken;
    ev.seq = id;
    ev.at_ns = t;
    ev.token_index = seq.emitted;
    ++seq.emitted;
    ev.last = seq.emitted >= seq.output_tokens;
    ev.admitted_ns = seq.admitted_ns;
    events.push_back(ev);
    if (ev.last) {
      Erase(it);
      ++freed;
    } else {
      batch_[keep++] = id;
    }
  }
  batch_.resize(keep);
  running_ -= freed;
  if (freed > 0) AdmitFromQueue(t);
  if (!batch_.empty() || !joining_.empty()) {
    step_pending_ = true;
    step_pending_ns_ = t;
  }
}

int64_t BatchScheduler::NextDeadlineNs() const {
  int64_t next = kIdle;
  if (!prefill_.empty()) next = std::min(next, prefill_.top().at_ns);
  if (step_active_) next = std::min(next, step_end_ns_);
  if (step_pending_) next = std::min(next, step_pending_ns_);
  return next;
}

void BatchScheduler::AdvanceTo(int64_t now_ns, std::vector<SchedulerEvent>& events,
                               int max_step_ends) {
  int step_ends = 0;
  for (;;) {
    // Drop prefill entries of cancelled sequences.
    while (!prefill_.empty() && seqs_.find(prefill_.top().seq) == seqs_.end()) prefill_.pop();
    const int64_t t_prefill = prefill_.empty() ? kIdle : prefill_.top().at_ns;
    const int64_t t_step_end = step_active_ ? step_end_ns_ : kIdle;
    const int64_t t_step_start = step_pending_ ? step_pending_ns_ : kIdle;
    const int64_t next = std::min({t_prefill, t_step_end, t_step_start});
    if (next == kIdle || next > now_ns) return;
    // At equal times: prefill completions, then the end of a step, then the start of the next.
    if (t_prefill == next) {
      const PrefillDone done = prefill_.top();
      prefill_.pop();
      FinishPrefill(done.at_ns, done.seq, events);
    } else if (t_step_end == next) {
      if (step_ends >= max_step_ends) return;
      ++step_ends;
      EndStep(events);
    } else {
      StartStep(next, events);
    }
  }
}

}  // namespace llmbench::sim
