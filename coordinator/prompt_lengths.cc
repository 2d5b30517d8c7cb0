#include "coordinator/prompt_lengths.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/stats.h"
#include "common/status.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

// Fewer one-token words than this and the whole vocabulary is used for appending (then a round
// may add more than one token per word, and the next round corrects it).
constexpr size_t kMinSingleTokenWords = 8;

std::optional<v1::Distribution> ToDistribution(std::vector<double> values) {
  std::optional<SummaryStats> s = Summarize(values);
  if (!s) return std::nullopt;
  v1::Distribution d;
  d.set_count(s->count);
  d.set_mean(s->mean);
  d.set_stdev(s->stdev);
  d.set_min(s->min);
  d.set_p50(s->p50);
  d.set_p90(s->p90);
  d.set_p95(s->p95);
  d.set_p99(s->p99);
  d.set_p999(s->p999);
  d.set_max(s->max);
  return d;
}

// The synthetic vocabulary's words that the counter counts as exactly one token after another
// word (" word"), computed on first use.
class SingleTokenWords {
 public:
  explicit SingleTokenWords(TokenCounter& counter) : counter_(counter) {}

  absl::StatusOr<const std::vector<std::string_view>*> Get(std::vector<std::string>* notes) {
    if (ready_) return &words_;
    const std::vector<std::string_view> vocabulary = SyntheticVocabulary();
    LLMBENCH_ASSIGN_OR_RETURN(const uint32_t base, counter_.CountText("the"));
    for (std::string_view word : vocabulary) {
      LLMBENCH_ASSIGN_OR_RETURN(const uint32_t n,
                                counter_.CountText(absl::StrCat("the ", std::string(word))));
      if (n == base + 1) words_.push_back(word);
    }
    if (words_.size() < kMinSingleTokenWords) {
      notes->push_back(absl::StrCat("only ", words_.size(),
                                    " words of the synthetic vocabulary are one token each to "
                                    "this tokenizer: prompts were adjusted with all of them"));
      words_ = vocabulary;
    }
    ready_ = true;
    return &words_;
  }

 private:
  TokenCounter& counter_;
  bool ready_ = false;
  std::vector<std::string_view> words_;
};


// Adjusts `prompt` (whose first `fixed` words are the shared prefix) until `counter` counts it
// `target` tokens; returns the final count. `count` is its count now.
//
// Fast rounds first: short by d, append d words that are one token each; long by d, drop d
// words from the end (each word is at least one token). That converges in a round or two when
// most words are one token (large vocabularies). Where words are several tokens each (small
// vocabularies, SentencePiece-style text merged across words) those rounds overshoot both ways,
// so then the number of words is bisected instead: the largest k for which the prefix plus the
// first k words of a long enough word sequence is at most the target (the count grows with k),
// the remainder filled with one-token words.
// `count_of` counts the prompt as calibrated: the request as its route sends it (a first
// turn), or a later turn's user message alone (CountText).
absl::StatusOr<uint32_t> Calibrate(
    uint32_t target, size_t fixed, uint32_t count,
    absl::FunctionRef<absl::StatusOr<uint32_t>(const v1::Prompt&)> count_of,
    SingleTokenWords& single, std::mt19937_64& rng, v1::Prompt* prompt, bool* adjusted,
    std::vector<std::string>* notes) {
  std::vector<std::string> words = absl::StrSplit(prompt->text(), ' ', absl::SkipEmpty());
  auto recount = [&]() -> absl::StatusOr<uint32_t> {
    *adjusted = true;
    prompt->set_text(absl::StrJoin(words, " "));
    return count_of(*prompt);
  };
  auto fast_rounds = [&](int rounds) -> absl::Status {
    for (int round = 0; round < rounds && count != target; ++round) {
      if (count < target) {
        LLMBENCH_ASSIGN_OR_RETURN(const std::vector<std::string_view>* fill, single.Get(notes));
        std::string extra;
        AppendSyntheticWords(rng, target - count, &extra, *fill);
        for (absl::string_view w : absl::StrSplit(extra, ' ', absl::SkipEmpty())) {
          words.emplace_back(std::string(w));
        }
      } else {
        const size_t removable = words.size() > fixed + 1 ? words.size() - fixed - 1 : 0;
        const size_t remove = std::min<size_t>(count - target, removable);
        if (remove == 0) break;
        words.resize(words.size() - remove);
      }
      LLMBENCH_ASSIGN_OR_RETURN(count, recount());
    }
    return absl::OkStatus();
  };
  LLMBENCH_RETURN_IF_ERROR(fast_rounds(kFastCalibrationRounds));
  if (count == target) return count;

  // Bisection over the number of words after the prefix. Every word is at least one token, so
  // `target` words are always enough.
  std::vector<std::string> sequence(words.begin() + static_cast<std::ptrdiff_t>(fixed),
                                    words.end());
  if (sequence.size() < target) {
    std::string extra;
    AppendSyntheticWords(rng, static_cast<uint32_t>(target - sequence.size()), &extra);
    for (absl::string_view w : absl::StrSplit(extra, ' ', absl::SkipEmpty())) {
      sequence.emplace_back(std::string(w));
    }
  }
  const std::vector<std::string> prefix(words.begin(),
                                        words.begin() + static_cast<std::ptrdiff_t>(fixed));
  auto count_with = [&](size_t k) -> absl::StatusOr<uint32_t> {
    words = prefix;
    words.insert(words.end(), sequence.begin(), sequence.begin() + static_cast<std::ptrdiff_t>(k));
    return recount();
  };
  size_t lo = 1;
  size_t hi = std::min<size_t>(sequence.size(), target);
  LLMBENCH_ASSIGN_OR_RETURN(uint32_t at_lo, count_with(lo));
  if (at_lo >= target) return at_lo;  // one word is already too many (or exactly right)
  LLMBENCH_ASSIGN_OR_RETURN(uint32_t at_hi, count_with(hi));
  if (at_hi <= target) {
    lo = hi;
    at_lo = at_hi;
  } else {
    while (hi - lo > 1) {  // f(lo) < target < f(hi)
      const size_t mid = lo + (hi - lo) / 2;
      LLMBENCH_ASSIGN_OR_RETURN(const uint32_t at_mid, count_with(mid));
      if (at_mid <= target) {
        lo = mid;
        at_lo = at_mid;
      } else {
        hi = mid;
      }
    }
  }
  LLMBENCH_ASSIGN_OR_RETURN(count, count_with(lo));
  // Short by less than the next word's tokens: one-token words make up the rest.
  LLMBENCH_RETURN_IF_ERROR(fast_rounds(kFastCalibrationRounds));
  return count;
}

}  // namespace

absl::StatusOr<ResolvedPrompts> ResolvePromptLengths(const PromptPlan& plan, TokenCounter& counter,
                                                     uint64_t seed) {
  const auto started = std::chrono::steady_clock::now();
  ResolvedPrompts out;
  v1::LengthReport& report = out.report;
  report.set_method(counter.method());
  report.set_source(counter.source());
  std::vector<std::string> notes;
  SingleTokenWords single(counter);
  uint32_t off_target_over = 0;  // the route's own tokens alone reach the target
  uint64_t turns_counted = 0;     // later turns' user messages (multi-turn)
  uint64_t turns_adjusted = 0;
  uint64_t turns_off_target = 0;
  auto count_request = [&](const v1::Prompt& p) { return counter.CountRequest(p); };
  auto count_text = [&](const v1::Prompt& p) { return counter.CountText(p.text()); };
  out.prompts = plan.prompts;
  for (size_t i = 0; i < out.prompts.size(); ++i) {
    v1::Prompt& prompt = out.prompts[i];
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t count, counter.CountRequest(prompt));
    if (plan.synthetic && i < plan.targets.size()) {
      const uint32_t target = plan.targets[i];
      const size_t fixed = i < plan.prefix_words.size() ? plan.prefix_words[i] : 0;
      std::mt19937_64 rng(SplitMix64(seed ^ 0x63616c6962000000ULL ^ i));  // "calib"
      bool adjusted = false;
      LLMBENCH_ASSIGN_OR_RETURN(
          count, Calibrate(target, fixed, count, count_request, single, rng, &prompt, &adjusted,
                           &notes));
      if (adjusted) report.set_prompts_adjusted(report.prompts_adjusted() + 1);
      if (count != target) {
        report.set_prompts_off_target(report.prompts_off_target() + 1);
        if (count > target) ++off_target_over;
      }
    }
    prompt.set_approx_tokens(count);
    // Later turns (multi-turn): each user message alone, without the chat template or the
    // history (which the engine adds up itself): synthetic ones made exactly their drawn
    // length, dataset ones counted as written.
    for (int t = 0; t < prompt.next_turns_size(); ++t) {
      v1::Prompt turn;
      turn.set_text(prompt.next_turns(t));
      LLMBENCH_ASSIGN_OR_RETURN(uint32_t turn_count, counter.CountText(turn.text()));
      if (plan.synthetic && t < prompt.next_turn_tokens_size()) {
        const uint32_t target = prompt.next_turn_tokens(t);
        std::mt19937_64 rng(SplitMix64(seed ^ 0x7475726e63000000ULL ^ (i << 10) ^
                                       static_cast<uint64_t>(t)));  // "turnc"
        bool adjusted = false;
        LLMBENCH_ASSIGN_OR_RETURN(turn_count, Calibrate(target, 0, turn_count, count_text, single,
                                                        rng, &turn, &adjusted, &notes));
        if (adjusted) ++turns_adjusted;
        if (turn_count != target) ++turns_off_target;
        prompt.set_next_turns(t, turn.text());
      }
      ++turns_counted;
      if (t < prompt.next_turn_tokens_size()) {
        prompt.set_next_turn_tokens(t, turn_count);
      } else {
        prompt.add_next_turn_tokens(turn_count);
      }
    }
    if (i < plan.replies.size() && !plan.replies[i].empty()) {
      LLMBENCH_ASSIGN_OR_RETURN(const uint32_t reply, counter.CountText(plan.replies[i]));
      prompt.set_max_tokens(std::clamp<uint32_t>(reply, 1, 1'000'000));
    }
  }
  if (report.prompts_off_target() > 0) {
    notes.push_back(absl::StrCat(
        report.prompts_off_target(), " synthetic prompts could not be made exact (",
        off_target_over,
        " of them because the route's own tokens -- chat template, special tokens, system "
        "prompt -- leave no room for the target): they keep their closest length"));
  }
  if (turns_counted > 0) {
    notes.push_back(absl::StrCat(
        turns_counted, " later-turn user messages counted alone (the engine also counts the "
        "history and the template, so later turns are not compared)",
        plan.synthetic ? absl::StrCat(": ", turns_adjusted, " adjusted to their drawn length, ",
                                      turns_off_target, " could not be made exact")
                       : ""));
  }
  report.set_prompts(static_cast<uint32_t>(out.prompts.size()));
  report.set_tokenize_calls(counter.calls());
  report.set_count_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  for (std::string& note : notes) report.add_notes(std::move(note));
  return out;
}

void LengthStats::Add(const v1::RequestRecord& record) {
  if (record.warmup() || record.error_class() != v1::ERROR_CLASS_NONE) return;
  // A later turn of a session sends the whole conversation: the engine counts the history too,
  // while prompt_tokens_sent is the new user message alone. Only first turns compare.
  const bool later_turn = record.has_turn_index() && record.turn_index() > 0;
  if (record.has_prompt_tokens_sent() && !later_turn) {
    const double requested = record.prompt_tokens_sent();
    input_requested_.push_back(requested);
    if (record.has_input_tokens()) {
      const double error = static_cast<double>(record.input_tokens()) - requested;
      ++input_compared_;
      if (error == 0) ++input_exact_;
      input_error_sum_ += error;
      if (requested > 0) input_abs_pct_sum_ += std::fabs(error) / requested * 100;
      input_max_abs_error_ = std::max(input_max_abs_error_, std::fabs(error));
    }
  }
  if (record.has_max_tokens_sent()) {
    output_requested_.push_back(record.max_tokens_sent());
    if (record.output_tokens() >= record.max_tokens_sent()) ++output_reached_;
  }
}

void LengthStats::Fill(v1::LengthReport* report) const {
  report->set_input_compared(input_compared_);
  report->set_input_exact(input_exact_);
  if (auto d = ToDistribution(input_requested_)) *report->mutable_input_requested() = *d;
  if (input_compared_ > 0) {
    const double n = static_cast<double>(input_compared_);
    report->set_input_mean_error(input_error_sum_ / n);
    report->set_input_mean_abs_error_pct(input_abs_pct_sum_ / n);
    report->set_input_max_abs_error(input_max_abs_error_);
  }
  report->set_output_compared(output_requested_.size());
  if (auto d = ToDistribution(output_requested_)) *report->mutable_output_requested() = *d;
  report->set_output_reached(output_reached_);
}

}  // namespace llmbench::coordinator
