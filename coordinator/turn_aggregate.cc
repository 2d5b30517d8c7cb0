#include "coordinator/turn_aggregate.h"

#include <algorithm>

#include "common/stats.h"
#include "proto/wire/session_ids.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

namespace {

constexpr double kNsPerMs = 1e6;

// `*d` from `values` when there are any (an unmeasured metric is absent: the caller sets the
// field only through this).
template <typename SetField>
void SetDistribution(std::vector<double> values, SetField field) {
  std::optional<SummaryStats> s = Summarize(values);
  if (!s) return;
  v1::Distribution* d = field();
  d->set_count(s->count);
  d->set_mean(s->mean);
  d->set_stdev(s->stdev);
  d->set_min(s->min);
  d->set_p50(s->p50);
  d->set_p90(s->p90);
  d->set_p95(s->p95);
  d->set_p99(s->p99);
  d->set_p999(s->p999);
  d->set_max(s->max);
}

}  // namespace

void TurnAggregator::Add(const v1::RequestRecord& record) {
  if (record.warmup() || !record.has_session_id()) return;
  const uint32_t index = std::min(record.turn_index(), wire::kMaxTurnsPerSession - 1);
  Engine& engine = engines_[record.engine()];
  if (engine.turns.size() <= index) engine.turns.resize(index + 1);
  Turn& turn = engine.turns[index];
  ++turn.requests;
  auto [it, inserted] = engine.sessions.try_emplace(record.session_id());
  Session& session = it->second;
  if (inserted || record.sent_ns() < session.first_sent_ns) {
    session.first_sent_ns = record.sent_ns();
  }
  session.last_end_ns = std::max(inserted ? record.end_ns() : session.last_end_ns, record.end_ns());
  ++session.records;
  const bool ok = record.error_class() == v1::ERROR_CLASS_NONE;
  if (record.session_end()) {
    session.ended = true;
    session.failed = !ok;
  }
  if (!ok) return;
  ++turn.successes;
  if (record.has_first_token_ns()) {
    turn.ttft_ms.push_back(static_cast<double>(record.first_token_ns() - record.sent_ns()) /
                           kNsPerMs);
  }
  turn.e2e_ms.push_back(static_cast<double>(record.end_ns() - record.sent_ns()) / kNsPerMs);
  const auto& offsets = record.chunk_offsets_ns();
  for (int i = 1; i < offsets.size(); ++i) {
    turn.itl_ms.push_back(static_cast<double>(offsets[i] - offsets[i - 1]) / kNsPerMs);
  }
  if (record.has_input_tokens()) turn.input_tokens.push_back(record.input_tokens());
  turn.output_tokens.push_back(record.output_tokens());
}

std::optional<v1::MultiTurnReport> TurnAggregator::Report(const std::string& engine) const {
  auto found = engines_.find(engine);
  if (found == engines_.end()) return std::nullopt;
  const Engine& e = found->second;
  v1::MultiTurnReport report;
  std::vector<double> durations, turns_per_session;
  uint64_t completed = 0, failed = 0;
  for (const auto& [id, session] : e.sessions) {
    if (!session.ended) continue;
    if (session.failed) {
      ++failed;
      continue;
    }
    ++completed;
    durations.push_back(static_cast<double>(session.last_end_ns - session.first_sent_ns) /
                        kNsPerMs);
    turns_per_session.push_back(session.records);
  }
  report.set_sessions_started(e.sessions.size());
  report.set_sessions_completed(completed);
  report.set_sessions_failed(failed);
  report.set_sessions_interrupted(e.sessions.size() - completed - failed);
  SetDistribution(std::move(durations), [&] { return report.mutable_session_duration_ms(); });
  SetDistribution(std::move(turns_per_session), [&] { return report.mutable_turns_per_session(); });
  for (size_t i = 0; i < e.turns.size(); ++i) {
    const Turn& turn = e.turns[i];
    if (turn.requests == 0) continue;
    v1::TurnAggregates* out = report.add_turns();
    out->set_turn_index(static_cast<uint32_t>(i));
    out->set_requests(turn.requests);
    out->set_successes(turn.successes);
    SetDistribution(turn.ttft_ms, [out] { return out->mutable_ttft_ms(); });
    SetDistribution(turn.itl_ms, [out] { return out->mutable_itl_ms(); });
    SetDistribution(turn.e2e_ms, [out] { return out->mutable_e2e_ms(); });
    SetDistribution(turn.input_tokens, [out] { return out->mutable_input_tokens(); });
    SetDistribution(turn.output_tokens, [out] { return out->mutable_output_tokens(); });
  }
  return report;
}

}  // namespace llmbench::coordinator
