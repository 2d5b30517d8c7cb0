#include "worker/shard_runner.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include <cstring>
#include <deque>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/text_safety.h"
#include "proto/wire/load_profile.h"
#include "proto/wire/session_ids.h"
#include "proto/wire/trace_schedule.h"
#include "spdlog/spdlog.h"
#include "worker/conversation.h"
#include "worker/event_loop.h"
#include "worker/transport.h"

namespace llmbench::worker {

using engines::EngineProtocol;
using engines::MakeEngineProtocol;
using llmbench::v1::ErrorClass;
using wire::ArrivalSchedule;
using wire::MakeArrivalSchedule;
using wire::CheckTraceShard;
using wire::TraceSchedule;
using llmbench::v1::RequestRecord;

double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

namespace {

constexpr int64_t kNsPerMs = 1'000'000;
// Open loop: most arrivals dispatched in one loop turn (see OnDispatchTimer).
constexpr uint32_t kMaxDispatchBatch = 64;
// Closed loop: after a failed request its slot waits kFailureBackoffBaseNs * 2^(n-1) before it
// sends again (n = consecutive failures on the loop), at most kFailureBackoffMaxNs.
constexpr int64_t kFailureBackoffBaseNs = 10 * kNsPerMs;
constexpr int64_t kFailureBackoffMaxNs = 1000 * kNsPerMs;
// Length of a loop window (ShardSummary.loop_windows).
constexpr int64_t kLoopWindowNs = 1'000'000'000;

}  // namespace

int64_t StartInstantNs(const Clock& clock, int64_t start_unix_ns) {
  const int64_t now_mono = clock.NowNs();
  const int64_t now_unix = clock.UnixNowNs();
  int64_t epoch = now_mono;
  if (start_unix_ns > now_unix) epoch += start_unix_ns - now_unix;
  return epoch;
}

// One event-loop thread of the shard. Everything below runs on that thread.
struct ShardRunner::Loop {
  ShardRunner* runner = nullptr;
  uint32_t index = 0;
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<Transport> transport;
  std::thread thread;

  uint32_t concurrency = 0;                   // closed loop share
  std::unique_ptr<ArrivalSchedule> schedule;  // open loop
  uint64_t next_own_index = 0;                // open loop: next arrival index of this loop
  int64_t next_scheduled_ns = 0;              // its scheduled time (shard-relative)
  EventLoop::TimerId timer = 0;               // start or dispatch timer
  bool started = false;
  bool stopping = false;
  bool finished = false;
  uint64_t connections_counted = 0;  // transport->connections_opened() already added
  bool tracing = false;               // options.dispatch_trace is set
  // Loop windows (ShardSummary.loop_windows): the last sample's monotonic time, busy time,
  // thread CPU time and run-queue wait (-1: not available).
  EventLoop::TimerId window_timer = 0;
  int64_t window_start_ns = 0;
  int64_t window_busy_ns = 0;
  int64_t window_cpu_ns = 0;
  int64_t window_runq_ns = -1;
  std::vector<DispatchTrace> traces;  // this dispatch batch's, until flushed
  // Closed loop back-off: slots waiting after a failure (not in flight, not load) and their
  // timers; consecutive failures on this loop since its last success.
  std::map<uint64_t, EventLoop::TimerId> backoff_timers;  // by back-off key
  uint64_t next_backoff_key = 0;
  uint32_t consecutive_failures = 0;
  // Multi-turn (Shard.multi_turn): the sessions this loop started that have not ended, by
  // session id; their think-time timers; (load unit requests) the sessions whose next turn may
  // go, oldest first; (open loop, load unit requests) the next session index of this loop.
  std::unordered_map<uint64_t, Conversation> sessions;
  std::map<uint64_t, EventLoop::TimerId> think_timers;  // by session id
  std::deque<uint64_t> ready;
  uint64_t next_session_index = 0;
  bool sessions_exhausted = false;  // open loop, load unit requests: no new session may start

  int64_t RelNow() const {
    return EventLoop::MonotonicNowNs() - runner->epoch_ns_.load(std::memory_order_relaxed);
  }

  void AdvanceSchedule(uint64_t skip) {
    for (uint64_t i = 0; i < skip; ++i) schedule->Next();
    next_scheduled_ns = schedule->Next();
  }

  void SampleWindowCounters(int64_t now) {
    window_start_ns = now;
    window_busy_ns = loop->busy_ns();
    window_cpu_ns = EventLoop::ThreadCpuNowNs();
    window_runq_ns = EventLoop::ThreadRunQueueWaitNs();
  }

  // Every second from the start instant: one LoopWindow for the second that ended.
  void OnWindowTimer() {
    window_timer = 0;
    const int64_t now = EventLoop::MonotonicNowNs();
    const int64_t start = window_start_ns;
    const int64_t busy = window_busy_ns;
    const int64_t cpu = window_cpu_ns;
    const int64_t runq = window_runq_ns;
    SampleWindowCounters(now);
    const double length = static_cast<double>(now - start);
    if (length > 0) {
      llmbench::v1::LoopWindow w;
      const int64_t epoch = runner->epoch_ns_.load(std::memory_order_relaxed);
      w.set_t_s(static_cast<double>(start - epoch) / 1e9);
      w.set_length_s(length / 1e9);
      w.set_loop(index);
      w.set_busy(static_cast<double>(window_busy_ns - busy) / length);
      w.set_cpu(static_cast<double>(window_cpu_ns - cpu) / length);
      if (runq >= 0 && window_runq_ns >= 0) {
        w.set_runq_wait(static_cast<double>(window_runq_ns - runq) / length);
      }
      runner->AddLoopWindow(std::move(w));
    }
    window_timer = loop->AddTimerAt(now + kLoopWindowNs, [this] { OnWindowTimer(); });
  }

  void OnStart() {
    timer = 0;
    started = true;
    SampleWindowCounters(EventLoop::MonotonicNowNs());
    window_timer = loop->AddTimerAt(window_start_ns + kLoopWindowNs, [this] { OnWindowTimer(); });
    if (runner->cancelled()) {
      stopping = true;
    } else if (runner->open_loop_) {
      AdvanceSchedule(index);
      if (runner->turn_arrivals_) {
        OnTurnArrivalTimer();
      } else {
        OnDispatchTimer();
      }
      return;
    } else {
      Fill();
    }
    MaybeFinish();
  }

  // Closed loop: keep `concurrency` requests in flight, less the slots backing off.
  void Fill() {
    if (runner->multi_turn_) {
      FillSessions();
      return;
    }
    while (!stopping && transport->in_flight() + backoff_timers.size() < concurrency) {
      const uint64_t k = runner->next_index_.fetch_add(1, std::memory_order_relaxed);
      if (!runner->InBounds(k, RelNow())) {
        stopping = true;
        break;
      }
      Dispatch(k, std::nullopt);
    }
  }

  // Open loop: send every arrival whose time has come, then sleep until the next one.
  void OnDispatchTimer() {
    timer = 0;
    const uint32_t stride = runner->loop_count_;
    uint32_t dispatched = 0;
    while (!stopping) {
      if (!runner->InBounds(next_own_index, next_scheduled_ns)) {
        stopping = true;
        break;
      }
      if (next_scheduled_ns > RelNow()) break;
      // A loop that fell behind sends its overdue arrivals in batches, handling the sockets
      // that became ready between them: completions hand their connections back to the pool
      // before the next batch needs them (one unbounded batch would open a connection for
      // every overdue arrival and make the loop fall further behind).
      if (dispatched == kMaxDispatchBatch) break;
      ++dispatched;
      if (tracing) Trace(next_own_index, next_scheduled_ns);
      Dispatch(next_own_index, next_scheduled_ns);
      next_own_index += stride;
      AdvanceSchedule(stride - 1);
    }
    // Send what was just dispatched now, in this callback, instead of at the start of the
    // next loop turn (after this turn's socket callbacks).
    transport->Flush();
    if (tracing && !traces.empty()) {
      const int64_t flushed = RelNow();
      const int64_t cpu = EventLoop::ThreadCpuNowNs() - loop->wake_thread_cpu_ns();
      for (DispatchTrace& trace : traces) {
        trace.flushed_ns = flushed;
        trace.turn_cpu_ns = cpu;
        runner->options_.dispatch_trace(trace);
      }
      traces.clear();
    }
    if (!stopping) {
      timer = loop->AddTimerAt(runner->epoch_ns_.load(std::memory_order_relaxed) +
                                   next_scheduled_ns,
                               [this] { OnDispatchTimer(); });
    }
    MaybeFinish();
  }

  void Trace(uint64_t k, int64_t scheduled_ns) {
    const int64_t epoch = runner->epoch_ns_.load(std::memory_order_relaxed);
    DispatchTrace trace;
    trace.request_id = runner->RequestIdFor(k);
    trace.scheduled_ns = scheduled_ns;
    trace.wait_start_ns = loop->wait_start_ns() - epoch;
    trace.wake_ns = loop->wake_ns() - epoch;
    trace.dispatch_ns = RelNow();
    traces.push_back(trace);
  }

  // ---- Multi-turn sessions (worker/conversation.h) ------------------------------------------

  // Closed loop. Load unit sessions: `concurrency` sessions in progress (in flight or thinking),
  // less the slots backing off. Load unit requests: `concurrency` turns in flight; a free slot
  // sends the oldest ready turn, else starts a new session.
  void FillSessions() {
    if (runner->session_unit_) {
      while (!stopping && sessions.size() + backoff_timers.size() < concurrency) {
        if (!ClaimSession()) break;
      }
      return;
    }
    while (transport->in_flight() + backoff_timers.size() < concurrency) {
      if (!ready.empty()) {
        const uint64_t id = ready.front();
        ready.pop_front();
        SendTurn(id, std::nullopt);
        continue;
      }
      if (stopping || !ClaimSession()) break;
    }
  }

  // Closed loop: starts the next session of the shard; false (and stopping) when out of bounds.
  bool ClaimSession() {
    const uint64_t k = runner->next_index_.fetch_add(1, std::memory_order_relaxed);
    if (!runner->InBounds(k, RelNow())) {
      stopping = true;
      return false;
    }
    StartSession(k, std::nullopt);
    return true;
  }

  void StartSession(uint64_t k, std::optional<int64_t> scheduled_ns) {
    const llmbench::v1::Shard& shard = runner->shard_;
    Conversation c;
    c.index = k;
    c.session_id = runner->RequestIdFor(k);
    c.prompt_index =
        static_cast<uint32_t>(c.session_id % static_cast<uint64_t>(shard.prompts_size()));
    c.turns = SessionTurns(shard.prompts(static_cast<int>(c.prompt_index)));
    const int64_t t_rel = scheduled_ns.value_or(RelNow());
    c.warmup = k < runner->warmup_count_ ||
               (!runner->count_bounded_ && t_rel < runner->warmup_rel_ns_);
    const uint64_t id = c.session_id;
    sessions.emplace(id, std::move(c));
    SendTurn(id, scheduled_ns);
  }

  // Sends session `id`'s next turn with the conversation so far. A turn after the first that
  // falls after a duration-bounded shard's end is not sent: the session ends there
  // (interrupted: no record says it ended).
  void SendTurn(uint64_t id, std::optional<int64_t> scheduled_ns) {
    auto it = sessions.find(id);
    if (it == sessions.end()) return;
    Conversation& c = it->second;
    const llmbench::v1::Shard& shard = runner->shard_;
    if (c.next_turn > 0 && !c.warmup && RelNow() >= runner->end_rel_ns_) {
      sessions.erase(it);
      return;
    }
    const llmbench::v1::Prompt& base = shard.prompts(static_cast<int>(c.prompt_index));
    const llmbench::v1::Prompt prompt = c.TurnPrompt(base);
    auto record = std::make_unique<RequestRecord>();
    record->set_request_id(wire::TurnRequestId(c.session_id, c.next_turn));
    record->set_shard_index(shard.shard_index());
    record->set_worker_id(runner->options_.worker_id);
    record->set_engine(shard.engine().name());
    record->set_prompt_index(c.prompt_index);
    record->set_warmup(c.warmup);
    record->set_session_id(c.session_id);
    record->set_turn_index(c.next_turn);
    if (scheduled_ns.has_value()) record->set_scheduled_ns(*scheduled_ns);
    if (prompt.approx_tokens() > 0) record->set_prompt_tokens_sent(prompt.approx_tokens());
    if (prompt.has_max_tokens()) record->set_max_tokens_sent(prompt.max_tokens());
    RequestRecord identity = *record;  // for a request the transport refuses
    HttpRequestSpec spec = runner->protocol_->BuildRequest(prompt, record->request_id());
    std::unique_ptr<ResponseParser> parser = runner->protocol_->NewParser(record.get());
    runner->requests_sent_.fetch_add(1, std::memory_order_relaxed);
    absl::Status status = transport->Start(spec, std::move(record), std::move(parser));
    if (!status.ok()) {
      // A failed turn ends its session.
      sessions.erase(id);
      identity.set_sent_ns(RelNow());
      identity.set_end_ns(identity.sent_ns());
      identity.set_error_class(llmbench::v1::ERROR_CLASS_CONNECT);
      identity.set_error_message(std::string(status.message()));
      identity.set_session_end(true);
      runner->OnRecord(std::move(identity));
    }
  }

  // A turn ended: a success adds the engine's reply to the history and the next turn follows
  // after its think time; a failure ends the session (session_end); a cancelled turn leaves it
  // interrupted. The reply text goes into the record only as far as outputs.text asked.
  void OnTurnComplete(RequestRecord* record) {
    const uint64_t id = record->session_id();
    auto it = sessions.find(id);
    if (it != sessions.end()) {
      Conversation& c = it->second;
      const llmbench::v1::ErrorClass error = record->error_class();
      if (error == llmbench::v1::ERROR_CLASS_NONE) {
        const llmbench::v1::Prompt& base =
            runner->shard_.prompts(static_cast<int>(c.prompt_index));
        c.AddReply(base, record->reply_text());
        if (c.done()) {
          record->set_session_end(true);
          sessions.erase(it);
        } else if (stopping && runner->cancelled()) {
          sessions.erase(it);
        } else {
          const int64_t think_ns = int64_t{ThinkMsBefore(base, c.next_turn)} * kNsPerMs;
          think_timers[id] = loop->AddTimerAfter(think_ns, [this, id] { OnThinkDone(id); });
        }
      } else {
        if (error != llmbench::v1::ERROR_CLASS_CANCELLED) record->set_session_end(true);
        sessions.erase(it);
      }
    }
    const uint32_t keep = runner->export_reply_bytes_;
    if (keep == 0) {
      record->clear_reply_text();
      record->clear_reply_text_truncated();
    } else if (record->reply_text().size() > keep) {
      size_t cut = keep;
      const std::string& text = record->reply_text();
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      record->mutable_reply_text()->resize(cut);
      record->set_reply_text_truncated(true);
    }
  }

  void OnThinkDone(uint64_t id) {
    think_timers.erase(id);
    if (runner->turn_arrivals_ && stopping) {  // past the end: no arrival will send it
      sessions.erase(id);
      MaybeFinish();
      return;
    }
    if (runner->session_unit_) {
      SendTurn(id, std::nullopt);
    } else {
      ready.push_back(id);
      if (!runner->open_loop_) Fill();
    }
    if (runner->open_loop_) transport->Flush();
    MaybeFinish();
  }

  void CancelSessions() {
    for (const auto& [id, timer_id] : think_timers) loop->CancelTimer(timer_id);
    think_timers.clear();
    ready.clear();
  }

  // Open loop, load unit requests: every arrival sends the oldest ready turn, else starts a new
  // session; an arrival with neither (all sessions started and none ready) sends nothing.
  void OnTurnArrivalTimer() {
    timer = 0;
    const uint32_t stride = runner->loop_count_;
    uint32_t dispatched = 0;
    while (!stopping) {
      if (sessions_exhausted && sessions.empty()) {
        stopping = true;
        break;
      }
      if (next_scheduled_ns > RelNow() || dispatched == kMaxDispatchBatch) break;
      if (next_scheduled_ns >= runner->end_rel_ns_ &&
          next_session_index >= runner->warmup_count_) {
        // Past a duration-bounded shard's end: nothing more is sent.
        sessions_exhausted = true;
        stopping = true;
        ready.clear();
        for (const auto& [id, timer_id] : think_timers) sessions.erase(id);
        CancelSessions();
        break;
      }
      ++dispatched;
      if (!ready.empty()) {
        const uint64_t id = ready.front();
        ready.pop_front();
        SendTurn(id, next_scheduled_ns);
      } else if (!sessions_exhausted) {
        if (runner->InBounds(next_session_index, next_scheduled_ns)) {
          StartSession(next_session_index, next_scheduled_ns);
          next_session_index += stride;
        } else {
          sessions_exhausted = true;
        }
      }
      next_own_index += stride;
      AdvanceSchedule(stride - 1);
    }
    transport->Flush();
    if (!stopping) {
      timer = loop->AddTimerAt(runner->epoch_ns_.load(std::memory_order_relaxed) +
                                   next_scheduled_ns,
                               [this] { OnTurnArrivalTimer(); });
    }
    MaybeFinish();
  }

  void Dispatch(uint64_t k, std::optional<int64_t> scheduled_ns) {
    if (runner->multi_turn_) {
      StartSession(k, scheduled_ns);
      return;
    }
    const llmbench::v1::Shard& shard = runner->shard_;
    auto record = std::make_unique<RequestRecord>();
    const uint64_t id = runner->RequestIdFor(k);
    const auto prompt_index = static_cast<uint32_t>(id % static_cast<uint64_t>(shard.prompts_size()));
    const llmbench::v1::Prompt& prompt = shard.prompts(static_cast<int>(prompt_index));
    record->set_request_id(id);
    record->set_shard_index(shard.shard_index());
    record->set_worker_id(runner->options_.worker_id);
    record->set_engine(shard.engine().name());
    record->set_prompt_index(prompt_index);
    const int64_t t_rel = scheduled_ns.value_or(RelNow());
    record->set_warmup(k < runner->warmup_count_ ||
                       (!runner->count_bounded_ && t_rel < runner->warmup_rel_ns_));
    if (scheduled_ns.has_value()) record->set_scheduled_ns(*scheduled_ns);
    if (prompt.approx_tokens() > 0) record->set_prompt_tokens_sent(prompt.approx_tokens());
    if (prompt.has_max_tokens()) record->set_max_tokens_sent(prompt.max_tokens());
    HttpRequestSpec spec = runner->protocol_->BuildRequest(prompt, id);
    std::unique_ptr<ResponseParser> parser = runner->protocol_->NewParser(record.get());
    runner->requests_sent_.fetch_add(1, std::memory_order_relaxed);
    absl::Status status = transport->Start(spec, std::move(record), std::move(parser));
    if (!status.ok()) {
      // The transport kept nothing: record the failure as this request's outcome.
      RequestRecord failed;
      failed.set_request_id(id);
      failed.set_shard_index(shard.shard_index());
      failed.set_worker_id(runner->options_.worker_id);
      failed.set_engine(shard.engine().name());
      failed.set_prompt_index(prompt_index);
      failed.set_warmup(k < runner->warmup_count_);
      if (scheduled_ns.has_value()) failed.set_scheduled_ns(*scheduled_ns);
      failed.set_sent_ns(RelNow());
      failed.set_end_ns(failed.sent_ns());
      failed.set_error_class(llmbench::v1::ERROR_CLASS_CONNECT);
      failed.set_error_message(std::string(status.message()));
      runner->OnRecord(std::move(failed));
    }
  }

  void OnComplete(std::unique_ptr<RequestRecord> record) {
    const llmbench::v1::Generation& generation = runner->shard_.generation();
    if (record->has_max_tokens_sent() ? record->output_tokens() > record->max_tokens_sent()
                                      : generation.has_max_tokens() &&
                                            record->output_tokens() > generation.max_tokens()) {
      record->set_over_max_tokens(true);
    }
    const uint64_t connections = transport->connections_opened();
    if (connections != connections_counted) {
      runner->connections_opened_.fetch_add(connections - connections_counted,
                                            std::memory_order_relaxed);
      connections_counted = connections;
    }
    if (runner->multi_turn_) OnTurnComplete(record.get());
    // Multi-turn: a session whose first turn was cancelled never started (it may run
    // elsewhere); one cancelled later is interrupted, not unfinished.
    if (record->error_class() == llmbench::v1::ERROR_CLASS_CANCELLED && !record->warmup() &&
        runner->count_bounded_ && (!runner->multi_turn_ || record->turn_index() == 0)) {
      if (std::optional<uint64_t> j = runner->ids_.IndexOf(
              runner->multi_turn_ ? record->session_id() : record->request_id())) {
        runner->AddUnfinished(*j);
      }
    }
    const bool failed = record->error_class() != llmbench::v1::ERROR_CLASS_NONE &&
                        record->error_class() != llmbench::v1::ERROR_CLASS_CANCELLED;
    runner->OnRecord(std::move(*record));
    if (!runner->open_loop_) {
      if (failed && !stopping) {
        BackOff();
      } else {
        if (!failed) consecutive_failures = 0;
        Fill();
      }
    }
    MaybeFinish();
  }

  // Closed loop: a failed request's slot waits before it sends again, so an engine that fails
  // at once (refused connections, instant errors) is not hammered in a tight loop. The wait
  // doubles with each consecutive failure on this loop and resets on a success.
  void BackOff() {
    const uint32_t doublings = std::min<uint32_t>(consecutive_failures, 16);
    ++consecutive_failures;
    const int64_t delay =
        std::min(kFailureBackoffMaxNs, kFailureBackoffBaseNs << doublings);
    runner->backoffs_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t key = next_backoff_key++;
    backoff_timers[key] = loop->AddTimerAfter(delay, [this, key] { OnBackoffDone(key); });
  }

  void OnBackoffDone(uint64_t key) {
    backoff_timers.erase(key);
    Fill();
    MaybeFinish();
  }

  void CancelBackoffs() {
    for (const auto& [key, id] : backoff_timers) loop->CancelTimer(id);
    backoff_timers.clear();
  }

  void OnCancel() {
    stopping = true;
    CancelBackoffs();
    CancelSessions();
    if (timer != 0) {
      loop->CancelTimer(timer);
      timer = 0;
    }
    if (transport->in_flight() > 0) {
      transport->AbortAll(llmbench::v1::ERROR_CLASS_CANCELLED, "shard cancelled");
    }
    sessions.clear();  // the sessions left are interrupted
    MaybeFinish();
  }

  void MaybeFinish() {
    if (finished || !stopping || transport->in_flight() > 0 || !sessions.empty()) return;
    finished = true;
    CancelBackoffs();
    CancelSessions();
    if (window_timer != 0) {
      loop->CancelTimer(window_timer);
      window_timer = 0;
    }
    if (timer != 0) {
      loop->CancelTimer(timer);
      timer = 0;
    }
    if (runner->open_loop_ && runner->count_bounded_) {
      // Arrivals of this loop that were never sent.
      const uint64_t first = runner->turn_arrivals_ ? next_session_index : next_own_index;
      for (uint64_t k = first; k < runner->total_count_; k += runner->loop_count_) {
        if (k >= runner->warmup_count_) runner->AddUnfinished(k - runner->warmup_count_);
      }
    }
    loop->Stop();
  }

  void ThreadMain() {
    loop->Run();
    transport.reset();  // on the loop's thread: it unwatches its sockets
    runner->OnLoopFinished();
  }
};

ShardRunner::ShardRunner(llmbench::v1::Shard shard, ShardRunnerOptions options,
                         std::unique_ptr<EngineProtocol> protocol, std::string api_key)
    : shard_(std::move(shard)),
      options_(std::move(options)),
      protocol_(std::move(protocol)),
      api_key_(std::move(api_key)),
      open_loop_(shard_.load().has_rate() || shard_.load().has_trace()),
      warmup_count_(shard_.warmup_requests()),
      ids_(shard_),
      total_count_(ids_.size() > 0 ? warmup_count_ + ids_.size() : 0),
      count_bounded_(ids_.size() > 0),
      end_rel_ns_(shard_.has_duration_seconds()
                      ? static_cast<int64_t>((shard_.warmup_seconds() + shard_.duration_seconds()) *
                                             1e9)
                      : std::numeric_limits<int64_t>::max()),
      warmup_rel_ns_(static_cast<int64_t>(shard_.warmup_seconds() * 1e9)),
      multi_turn_(shard_.has_multi_turn()),
      session_unit_(shard_.multi_turn().load_unit() != llmbench::v1::LOAD_UNIT_REQUESTS),
      turn_arrivals_(multi_turn_ && !session_unit_ && open_loop_),
      queue_(options_.queue_capacity) {}

absl::StatusOr<std::unique_ptr<ShardRunner>> ShardRunner::Create(llmbench::v1::Shard shard,
                                                                 ShardRunnerOptions options) {
  if (shard.engine().base_url().empty()) {
    return absl::InvalidArgumentError("shard.engine.base_url is empty");
  }
  if (shard.prompts_size() == 0) return absl::InvalidArgumentError("shard.prompts is empty");
  if (options.loop_threads == 0) options.loop_threads = 1;
  const llmbench::v1::ShardLoad& load = shard.load();
  uint32_t loops = options.loop_threads;
  if (load.has_concurrency()) {
    const uint32_t n = load.concurrency().concurrency();
    if (n == 0) return absl::InvalidArgumentError("shard.load.concurrency must be at least 1");
    if (n > options.max_concurrency) {
      return absl::InvalidArgumentError(
          absl::StrCat("shard.load.concurrency ", n, " exceeds this worker's max_concurrency ",
                       options.max_concurrency));
    }
    loops = std::min(loops, n);
  } else if (load.has_rate()) {
    LLMBENCH_ASSIGN_OR_RETURN(auto schedule, MakeArrivalSchedule(load.rate(), load.seed()));
    (void)schedule;
  } else if (!load.has_trace()) {
    return absl::InvalidArgumentError("shard.load has neither concurrency, rate nor trace");
  }
  if (const char* bad = wire::ShardIds::Check(shard); *bad != '\0') {
    return absl::InvalidArgumentError(bad);
  }
  if (load.has_trace()) LLMBENCH_RETURN_IF_ERROR(CheckTraceShard(shard, wire::ShardIds(shard)));
  if (shard.request_ids_size() == 0 && shard.request_ranges_size() == 0 &&
      !shard.has_duration_seconds()) {
    return absl::InvalidArgumentError(
        "shard has neither request_ids, request_ranges nor duration_seconds");
  }
  if (shard.has_duration_seconds() &&
      (!std::isfinite(shard.duration_seconds()) || shard.duration_seconds() <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard.duration_seconds must be > 0, got ", shard.duration_seconds()));
  }
  if (!std::isfinite(shard.warmup_seconds()) || shard.warmup_seconds() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard.warmup_seconds must be >= 0, got ", shard.warmup_seconds()));
  }
  if (shard.warmup_requests() > 0xffffffffu) {
    return absl::InvalidArgumentError("shard.warmup_requests must be below 2^32");
  }
  for (const auto& [name, value] : shard.engine().headers()) {
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
             std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    });
    if (!token) {
      return absl::InvalidArgumentError(
          absl::StrCat("shard.engine.headers: not a valid HTTP header name: \"",
                       absl::CHexEscape(name.substr(0, 60)), "\""));
    }
    if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shard.engine.headers.", name, ": header values must not contain line breaks"));
    }
  }
  std::string api_key;
  if (!shard.engine().api_key_env().empty()) {
    LLMBENCH_ASSIGN_OR_RETURN(api_key, options.api_keys.KeyFor(shard.engine().api_key_env()));
  }
  uint32_t export_reply_bytes = shard.generation().reply_text_bytes();
  if (shard.has_multi_turn()) {
    LLMBENCH_RETURN_IF_ERROR(CheckMultiTurnShard(shard));
    // The history needs each reply whole; the records keep only what outputs.text asked for.
    shard.mutable_generation()->set_reply_text_bytes(kMaxHistoryReplyBytes);
  }
  if (shard.record_batch_size() == 0) shard.set_record_batch_size(256);
  if (shard.progress_interval_ms() == 0) shard.set_progress_interval_ms(500);
  if (shard.id_stride() == 0) shard.set_id_stride(1);
  LLMBENCH_ASSIGN_OR_RETURN(std::unique_ptr<EngineProtocol> protocol,
                            MakeEngineProtocol(shard.engine(), shard.generation()));
  auto runner = std::unique_ptr<ShardRunner>(
      new ShardRunner(std::move(shard), options, std::move(protocol), std::move(api_key)));
  runner->loop_count_ = loops;
  runner->export_reply_bytes_ = export_reply_bytes;
  return runner;
}

absl::Status ShardRunner::CheckMultiTurnShard(const llmbench::v1::Shard& shard) {
  if (shard.warmup_requests() >= wire::kMaxWarmupSessions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard.warmup_requests: a multi-turn shard has at most ", wire::kMaxWarmupSessions - 1,
        " warm-up sessions, got ", shard.warmup_requests()));
  }
  const llmbench::v1::Engine& engine = shard.engine();
  const bool chat =
      engine.api() == llmbench::v1::API_CHAT_COMPLETIONS ||
      engine.api() == llmbench::v1::API_OLLAMA_CHAT ||
      (engine.api() == llmbench::v1::API_UNSPECIFIED &&
       (engine.kind() == llmbench::v1::ENGINE_KIND_VLLM ||
        engine.kind() == llmbench::v1::ENGINE_KIND_OPENAI));
  if (!chat) {
    return absl::InvalidArgumentError(
        "shard.multi_turn: multi-turn sessions need a chat route (engine.api chat_completions or "
        "ollama_chat)");
  }
  auto too_large = [](uint64_t id) { return id > wire::kMaxSessionId; };
  for (uint64_t id : shard.request_ids()) {
    if (too_large(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("shard.request_ids: session id ", id, " is above ", wire::kMaxSessionId));
    }
  }
  for (const llmbench::v1::IdRange& r : shard.request_ranges()) {
    if (r.count() > 0 && too_large(r.first() + r.count() - 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shard.request_ranges: session ids up to ", r.first() + r.count() - 1, " are above ",
          wire::kMaxSessionId));
    }
  }
  for (const llmbench::v1::Prompt& prompt : shard.prompts()) {
    if (prompt.next_turns_size() + 1 > static_cast<int>(wire::kMaxTurnsPerSession)) {
      return absl::InvalidArgumentError(absl::StrCat("shard.prompts: a session has at most ",
                                                     wire::kMaxTurnsPerSession, " turns, got ",
                                                     prompt.next_turns_size() + 1));
    }
  }
  return absl::OkStatus();
}

ShardRunner::~ShardRunner() {
  Cancel();
  Join();
}

uint64_t ShardRunner::RequestIdFor(uint64_t k) const {
  if (k < warmup_count_) return wire::WarmupRequestId(shard_.shard_index(), k);
  const uint64_t j = k - warmup_count_;
  if (count_bounded_) return ids_.IdAt(j);
  return shard_.first_id() + j * shard_.id_stride();
}

bool ShardRunner::InBounds(uint64_t k, int64_t t_rel_ns) const {
  if (count_bounded_ && k >= total_count_) return false;
  // Warm-up requests by count are sent whatever the duration.
  if (k >= warmup_count_ && t_rel_ns >= end_rel_ns_) return false;
  return true;
}

void ShardRunner::AddLoopWindow(llmbench::v1::LoopWindow window) {
  std::lock_guard<std::mutex> lock(mu_);
  loop_windows_.push_back(std::move(window));
}

void ShardRunner::AddUnfinished(uint64_t j) { AddUnfinishedRange(j, j + 1); }

void ShardRunner::AddUnfinishedRange(uint64_t j_begin, uint64_t j_end) {
  std::lock_guard<std::mutex> lock(mu_);
  if (unfinished_.empty()) unfinished_.assign(ids_.size(), false);
  for (uint64_t j = j_begin; j < j_end && j < ids_.size(); ++j) unfinished_[j] = true;
}

void ShardRunner::OnRecord(RequestRecord&& record) {
  if (!api_key_.empty()) {
    RedactSecret(record.mutable_error_message(), api_key_);
    RedactSecret(record.mutable_finish_reason(), api_key_);
  }
  completed_.fetch_add(1, std::memory_order_relaxed);
  if (record.error_class() != llmbench::v1::ERROR_CLASS_NONE) {
    errors_.fetch_add(1, std::memory_order_relaxed);
  }
  output_tokens_.fetch_add(record.output_tokens(), std::memory_order_relaxed);
  if (record.has_scheduled_ns()) {
    const int64_t lateness = record.sent_ns() - record.scheduled_ns();
    int64_t current = max_lateness_ns_.load(std::memory_order_relaxed);
    while (lateness > current &&
           !max_lateness_ns_.compare_exchange_weak(current, lateness, std::memory_order_relaxed)) {
    }
  }
  if (queue_.TryPush(std::move(record))) records_accepted_.fetch_add(1, std::memory_order_relaxed);
}

absl::Status ShardRunner::Start() {
  if (started_.exchange(true)) return absl::FailedPreconditionError("shard already started");
  const int64_t now_mono = EventLoop::MonotonicNowNs();
  epoch_ns_.store(StartInstantNs(SteadyClock::Get(), shard_.start_unix_ns()),
                  std::memory_order_release);
  cpu_start_seconds_.store(ProcessCpuSeconds());
  cpu_start_mono_ns_.store(now_mono, std::memory_order_release);
  absl::Status status = StartLoops();
  if (!status.ok()) {
    for (auto& loop : loops_) {
      if (loop->thread.joinable()) loop->thread.join();
    }
    loops_.clear();
    if (!done_.exchange(true)) queue_.Close();
    return status;
  }
  // A Cancel() that raced with Start() reached no loop: deliver it now.
  if (cancelled()) {
    for (auto& loop : loops_) {
      Loop* raw = loop.get();
      raw->loop->Post([raw] { raw->OnCancel(); });
    }
  }
  return absl::OkStatus();
}

absl::Status ShardRunner::StartLoops() {
  const int64_t epoch = epoch_ns_.load();
  const uint32_t concurrency = open_loop_ ? 0 : shard_.load().concurrency().concurrency();
  for (uint32_t i = 0; i < loop_count_; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->runner = this;
    loop->index = i;
    loop->next_own_index = i;
    loop->next_session_index = i;
    LLMBENCH_ASSIGN_OR_RETURN(loop->loop, EventLoop::Create());
    TransportConfig config;
    const llmbench::v1::Engine& engine = shard_.engine();
    config.base_url = engine.base_url();
    for (const auto& [name, value] : engine.headers()) config.headers.emplace_back(name, value);
    std::sort(config.headers.begin(), config.headers.end());
    config.api_key = api_key_;
    config.http2 = engine.http2();
    config.tls_ca_file = engine.tls_ca_file();
    const llmbench::v1::Timeouts& timeouts = engine.timeouts();
    if (timeouts.has_connect_ms()) config.connect_timeout_ms = timeouts.connect_ms();
    if (timeouts.has_first_byte_ms()) config.first_byte_timeout_ms = timeouts.first_byte_ms();
    if (timeouts.has_total_ms()) config.total_timeout_ms = timeouts.total_ms();
    if (timeouts.has_idle_ms()) config.idle_timeout_ms = timeouts.idle_ms();
    if (open_loop_) {
      if (shard_.load().has_trace()) {
        loop->schedule = std::make_unique<TraceSchedule>(shard_, ids_);
      } else {
        LLMBENCH_ASSIGN_OR_RETURN(loop->schedule,
                                  MakeArrivalSchedule(shard_.load().rate(), shard_.load().seed()));
      }
      // In-flight requests are not capped in an open loop: keep as many idle connections as
      // the worker accepts concurrent requests, so that a burst's connections are reused
      // afterwards instead of being closed and opened again.
      config.max_cached_connections =
          std::max<long>(256, static_cast<long>(options_.max_concurrency));
    } else {
      loop->concurrency = concurrency / loop_count_ + (i < concurrency % loop_count_ ? 1 : 0);
      config.max_cached_connections = static_cast<long>(loop->concurrency) + 4;
    }
    Loop* raw = loop.get();
    LLMBENCH_ASSIGN_OR_RETURN(
        loop->transport,
        MakeTransport(raw->loop.get(), std::move(config), epoch,
                      [raw](std::unique_ptr<RequestRecord> record) {
                        raw->OnComplete(std::move(record));
                      }));
    if (options_.dispatch_trace && open_loop_) {
      loop->tracing = true;
      loop->loop->set_stamp_thread_cpu(true);
    }
    loop->timer = loop->loop->AddTimerAt(epoch, [raw] { raw->OnStart(); });
    loops_.push_back(std::move(loop));
  }
  for (auto& loop : loops_) {
    Loop* raw = loop.get();
    loop->thread = std::thread([raw] { raw->ThreadMain(); });
  }
  return absl::OkStatus();
}

void ShardRunner::Cancel() {
  if (cancelled_.exchange(true)) return;
  if (!started_.load()) {
    // Never started: nothing runs, nothing will.
    if (!done_.exchange(true)) queue_.Close();
    return;
  }
  for (auto& loop : loops_) {
    Loop* raw = loop.get();
    if (raw->loop != nullptr) raw->loop->Post([raw] { raw->OnCancel(); });
  }
  queue_.Interrupt();
}

void ShardRunner::Join() {
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

void ShardRunner::OnLoopFinished() {
  if (loops_finished_.fetch_add(1) + 1 != loop_count_) return;
  end_ns_.store(EventLoop::MonotonicNowNs(), std::memory_order_release);
  cpu_end_seconds_.store(ProcessCpuSeconds(), std::memory_order_release);
  if (count_bounded_ && !open_loop_) {
    // Closed loop: indices never claimed.
    const uint64_t first = std::max(std::min(next_index_.load(), total_count_), warmup_count_);
    if (first < total_count_) AddUnfinishedRange(first - warmup_count_, ids_.size());
  }
  if (!done_.exchange(true)) queue_.Close();
}

llmbench::v1::Progress ShardRunner::progress() const {
  llmbench::v1::Progress p;
  const uint64_t sent = requests_sent_.load(std::memory_order_relaxed);
  const uint64_t completed = completed_.load(std::memory_order_relaxed);
  p.set_completed(completed);
  p.set_in_flight(sent > completed ? sent - completed : 0);
  p.set_errors(errors_.load(std::memory_order_relaxed));
  p.set_output_tokens(output_tokens_.load(std::memory_order_relaxed));
  const int64_t epoch = epoch_ns_.load(std::memory_order_acquire);
  const int64_t end = end_ns_.load(std::memory_order_acquire);
  const int64_t now = end != 0 ? end : EventLoop::MonotonicNowNs();
  const int64_t elapsed = started_.load() ? std::max<int64_t>(0, now - epoch) : 0;
  p.set_elapsed_ns(elapsed);
  // CPU is measured from Start(), so divide by the wall time since Start(), not since the
  // (later) start instant.
  const int64_t cpu_wall = started_.load() ? now - cpu_start_mono_ns_.load() : 0;
  if (cpu_wall > 0) {
    const double cpu_now = end != 0 ? cpu_end_seconds_.load() : ProcessCpuSeconds();
    p.set_cpu_utilization((cpu_now - cpu_start_seconds_.load()) /
                          (static_cast<double>(cpu_wall) / 1e9));
  }
  return p;
}

llmbench::v1::ShardSummary ShardRunner::summary() const {
  llmbench::v1::ShardSummary s;
  s.set_requests_sent(requests_sent_.load());
  s.set_records_sent(records_accepted_.load());
  s.set_records_dropped(queue_.dropped());
  s.set_cancelled(cancelled());
  const llmbench::v1::Progress p = progress();
  s.set_elapsed_ns(p.elapsed_ns());
  const int64_t end = end_ns_.load(std::memory_order_acquire);
  if (started_.load()) {
    const double cpu_now = end != 0 ? cpu_end_seconds_.load() : ProcessCpuSeconds();
    s.set_cpu_seconds(cpu_now - cpu_start_seconds_.load());
    const int64_t now = end != 0 ? end : EventLoop::MonotonicNowNs();
    s.set_cpu_wall_ns(std::max<int64_t>(0, now - cpu_start_mono_ns_.load()));
  }
  s.set_backoffs(backoffs_.load());
  s.set_max_lateness_ms(static_cast<double>(max_lateness_ns_.load()) / kNsPerMs);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const llmbench::v1::LoopWindow& w : loop_windows_) *s.add_loop_windows() = w;
    // Runs of unfinished indices, each mapped onto the id ranges it spans.
    for (uint64_t j = 0; j < unfinished_.size();) {
      if (!unfinished_[j]) {
        ++j;
        continue;
      }
      uint64_t run_end = j;
      while (run_end < unfinished_.size() && unfinished_[run_end]) ++run_end;
      ids_.AppendIdRanges(j, run_end, s.mutable_unfinished_ranges());
      j = run_end;
    }
  }
  if (queue_.dropped() > 0) {
    s.set_note(absl::StrCat(queue_.dropped(),
                            " records dropped: the reader fell behind and the worker's record "
                            "queue (capacity ",
                            queue_.capacity(), ") overflowed"));
  }
  return s;
}

}  // namespace llmbench::worker
