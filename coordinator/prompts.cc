#include "coordinator/prompts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/status.h"
#include "coordinator/multi_turn.h"
#include "coordinator/scenario_defaults.h"
#include "simdjson.h"

namespace llmbench::coordinator {
namespace {

using llmbench::v1::Prompt;

// Plain, common English words: real engines see text that tokenizes like ordinary prose
// (mostly one token per word), and llmbench-sim counts exactly one token per word.
constexpr std::string_view kVocabulary[] = {
    "the",     "of",      "and",     "to",      "in",      "is",      "that",    "for",
    "it",      "as",      "was",     "with",    "be",      "by",      "on",      "not",
    "he",      "this",    "are",     "or",      "his",     "from",    "at",      "which",
    "but",     "have",    "an",      "had",     "they",    "you",     "were",    "their",
    "one",     "all",     "we",      "can",     "her",     "has",     "there",   "been",
    "if",      "more",    "when",    "will",    "would",   "who",     "so",      "no",
    "time",    "people",  "year",    "way",     "day",     "man",     "thing",   "woman",
    "life",    "child",   "world",   "school",  "state",   "family",  "student", "group",
    "country", "problem", "hand",    "part",    "place",   "case",    "week",    "company",
    "system",  "program", "question", "work",   "number",  "night",   "point",   "home",
    "water",   "room",    "mother",  "area",    "money",   "story",   "fact",    "month",
    "lot",     "right",   "study",   "book",    "eye",     "job",     "word",    "business",
    "issue",   "side",    "kind",    "head",    "house",   "service", "friend",  "father",
    "power",   "hour",    "game",    "line",    "end",     "member",  "law",     "car",
    "city",    "name",    "team",    "minute",  "idea",    "kid",     "body",    "information",
    "back",    "parent",  "face",    "others",  "level",   "office",  "door",    "health",
    "person",  "art",     "war",     "history", "party",   "result",  "change",  "morning",
    "reason",  "research", "girl",   "guy",     "moment",  "air",     "teacher", "force",
    "good",    "new",     "first",   "last",    "long",    "great",   "little",  "own",
    "other",   "old",     "big",     "high",    "different", "small", "large",   "next",
    "early",   "young",   "important", "few",   "public",  "bad",     "same",    "able",
    "say",     "make",    "go",      "know",    "take",    "see",     "come",    "think",
    "look",    "want",    "give",    "use",     "find",    "tell",    "ask",     "seem",
    "feel",    "try",     "leave",   "call",    "keep",    "let",     "begin",   "show",
    "hear",    "play",    "run",     "move",    "live",    "believe", "bring",   "happen",
    "write",   "provide", "sit",     "stand",   "lose",    "pay",     "meet",    "include",
    "continue", "set",    "learn",   "lead",    "understand", "watch", "follow", "stop",
    "create",  "speak",   "read",    "allow",   "add",     "spend",   "grow",    "open",
    "walk",    "win",     "offer",   "remember", "love",   "consider", "appear", "buy",
    "wait",    "serve",   "die",     "send",    "expect",  "build",   "stay",    "fall",
    "cut",     "reach",   "kill",    "remain",  "suggest", "raise",   "pass",    "sell",
    "require", "report",  "decide",  "pull",    "explain", "describe", "answer", "carefully",
};
constexpr uint64_t kVocabularySize = sizeof(kVocabulary) / sizeof(kVocabulary[0]);
constexpr uint32_t kMaxWords = 1'000'000;

// Uniform in [0, n) (n >= 1); the modulo bias is below 2^-40 for the sizes used here.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) { return rng() % n; }

// Uniform in (0, 1].
double UniformUnit(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

// A standard normal draw. Box–Muller: deterministic, unlike std::normal_distribution across
// standard libraries.
double StandardNormal(std::mt19937_64& rng) {
  const double u1 = UniformUnit(rng);
  const double u2 = UniformUnit(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

absl::Status ReadFile(const std::string& resolved, const std::string& shown, std::string* out) {
  absl::StatusOr<int> opened = OpenDatasetFile(resolved);
  if (!opened.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(shown, ": cannot read: ", opened.status().message()));
  }
  absl::StatusOr<bool> over = ReadToEndBounded(*opened, kMaxDatasetBytes, out);
  if (!over.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(shown, ": cannot read: ", over.status().message()));
  }
  if (*over) {  // it grew while we read it
    return absl::InvalidArgumentError(
        absl::StrCat(shown, ": cannot read: more than ", kMaxDatasetBytes,
                     " bytes, over the 1 GiB limit for a dataset file"));
  }
  return absl::OkStatus();
}

const char* TypeName(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::ARRAY:
      return "a list";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    default:
      return "a number";
  }
}

// One dataset entry: its prompt (nullopt without a usable human turn), and its reply (ShareGPT:
// the first gpt/assistant turn after the human turn used) or output length (JSONL
// "max_tokens"/"output_tokens").
struct DatasetEntry {
  std::optional<std::string> text;
  std::string reply;
  std::optional<uint32_t> max_tokens;
  // ShareGPT: the human turns after the first, in order (multi-turn sessions).
  std::vector<std::string> later_turns;
};

// The reply of a conversation: the first turn after `human_index` written by the model.
std::string FindReply(simdjson::dom::array turns, size_t human_index) {
  size_t index = 0;
  for (simdjson::dom::element turn : turns) {
    if (index++ <= human_index) continue;
    std::string_view from;
    const bool model =
        (turn["from"].get_string().get(from) == simdjson::SUCCESS &&
         (from == "gpt" || from == "assistant" || from == "chatgpt" || from == "bard" ||
          from == "bing" || from == "model")) ||
        (turn["role"].get_string().get(from) == simdjson::SUCCESS && from == "assistant");
    if (!model) continue;
    std::string_view text;
    if (turn["value"].get_string().get(text) == simdjson::SUCCESS ||
        turn["content"].get_string().get(text) == simdjson::SUCCESS) {
      return std::string(text);
    }
    return "";
  }
  return "";
}

// Every human turn after `first_human` with non-empty text, in order.
std::vector<std::string> LaterHumanTurns(simdjson::dom::array turns, size_t first_human) {
  std::vector<std::string> later;
  size_t index = 0;
  for (simdjson::dom::element turn : turns) {
    if (index++ <= first_human) continue;
    std::string_view from;
    const bool human = (turn["from"].get_string().get(from) == simdjson::SUCCESS &&
                        (from == "human" || from == "user")) ||
                       (turn["role"].get_string().get(from) == simdjson::SUCCESS && from == "user");
    std::string_view text;
    if (human && (turn["value"].get_string().get(text) == simdjson::SUCCESS ||
                  turn["content"].get_string().get(text) == simdjson::SUCCESS)) {
      std::string trimmed(absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
      if (!trimmed.empty()) later.push_back(std::move(trimmed));
    }
  }
  return later;
}

absl::StatusOr<std::optional<std::string>> ExtractPrompt(simdjson::dom::element entry,
                                                         std::string* reply,
                                                         std::optional<uint32_t>* max_tokens,
                                                         std::vector<std::string>* later_turns) {
  simdjson::dom::object object;
  if (entry.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON object, got ", TypeName(entry.type())));
  }
  simdjson::dom::element field;
  if (object["conversations"].get(field) == simdjson::SUCCESS) {
    simdjson::dom::array turns;
    if (field.get_array().get(turns) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"conversations\" must be a list, got ", TypeName(field.type())));
    }
    size_t index = 0;
    for (simdjson::dom::element turn : turns) {
      simdjson::dom::object turn_object;
      if (turn.get_object().get(turn_object) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(absl::StrCat("conversations[", index,
                                                       "] must be an object, got ",
                                                       TypeName(turn.type())));
      }
      std::string_view from;
      const bool human =
          (turn_object["from"].get_string().get(from) == simdjson::SUCCESS &&
           (from == "human" || from == "user")) ||
          (turn_object["role"].get_string().get(from) == simdjson::SUCCESS && from == "user");
      if (human) {
        std::string_view text;
        if (turn_object["value"].get_string().get(text) == simdjson::SUCCESS ||
            turn_object["content"].get_string().get(text) == simdjson::SUCCESS) {
          *reply = FindReply(turns, index);
          *later_turns = LaterHumanTurns(turns, index);
          return std::optional<std::string>(std::string(text));
        }
        return absl::InvalidArgumentError(absl::StrCat(
            "conversations[", index, "] has no string \"value\" (or \"content\")"));
      }
      ++index;
    }
    return std::optional<std::string>();
  }
  for (const char* key : {"max_tokens", "output_tokens"}) {
    if (object[key].get(field) != simdjson::SUCCESS) continue;
    uint64_t n = 0;
    if (field.get_uint64().get(n) != simdjson::SUCCESS || n < 1 || n > kMaxWords) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", key, "\" must be a whole number between 1 and ", kMaxWords));
    }
    *max_tokens = static_cast<uint32_t>(n);
    break;
  }
  for (const char* key : {"prompt", "text"}) {
    if (object[key].get(field) == simdjson::SUCCESS) {
      std::string_view text;
      if (field.get_string().get(text) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", key, "\" must be a string, got ", TypeName(field.type())));
      }
      return std::optional<std::string>(std::string(text));
    }
  }
  return absl::InvalidArgumentError(
      "expected a \"conversations\", \"prompt\" or \"text\" field");
}

struct DatasetReader {
  const llmbench::v1::DatasetPrompts& options;
  const std::string& shown;  // file name as written in the scenario
  std::vector<DatasetEntry> texts;
  size_t entries = 0;

  bool Full() const { return options.max_prompts() != 0 && texts.size() >= options.max_prompts(); }

  void Offer(std::optional<std::string> text, std::string reply,
             std::optional<uint32_t> max_tokens, std::vector<std::string> later_turns) {
    ++entries;
    if (!text) return;
    std::string trimmed(absl::StripAsciiWhitespace(*text));
    if (trimmed.empty()) return;
    if (options.has_min_input_chars() && trimmed.size() < options.min_input_chars()) return;
    texts.push_back(DatasetEntry{std::move(trimmed),
                                 std::string(absl::StripAsciiWhitespace(reply)), max_tokens,
                                 std::move(later_turns)});
  }

  absl::Status ReadArray(const std::string& content) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto error = parser.parse(content).get(root); error != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat(shown, ": invalid JSON: ", simdjson::error_message(error)));
    }
    simdjson::dom::array array;
    if (root.get_array().get(array) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat(shown, ": expected a JSON list of entries, got ", TypeName(root.type())));
    }
    size_t index = 0;
    for (simdjson::dom::element entry : array) {
      if (Full()) break;
      std::string reply;
      std::optional<uint32_t> max_tokens;
      std::vector<std::string> later_turns;
      auto text = ExtractPrompt(entry, &reply, &max_tokens, &later_turns);
      if (!text.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(shown, ": entry ", index, ": ", text.status().message()));
      }
      Offer(*std::move(text), std::move(reply), max_tokens, std::move(later_turns));
      ++index;
    }
    return absl::OkStatus();
  }

  absl::Status ReadLines(const std::string& content) {
    simdjson::dom::parser parser;
    size_t line_number = 0;
    size_t start = 0;
    while (start < content.size() && !Full()) {
      size_t end = content.find('\n', start);
      if (end == std::string::npos) end = content.size();
      ++line_number;
      const std::string_view line(content.data() + start, end - start);
      start = end + 1;
      const std::string_view trimmed = [&] {
        size_t a = 0, b = line.size();
        while (a < b && absl::ascii_isspace(static_cast<unsigned char>(line[a]))) ++a;
        while (b > a && absl::ascii_isspace(static_cast<unsigned char>(line[b - 1]))) --b;
        return line.substr(a, b - a);
      }();
      if (trimmed.empty()) continue;
      simdjson::dom::element entry;
      if (auto error = parser.parse(trimmed.data(), trimmed.size(), true).get(entry);
          error != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(absl::StrCat(shown, ":", line_number, ": invalid JSON: ",
                                                       simdjson::error_message(error)));
      }
      std::string reply;
      std::optional<uint32_t> max_tokens;
      std::vector<std::string> later_turns;
      auto text = ExtractPrompt(entry, &reply, &max_tokens, &later_turns);
      if (!text.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(shown, ":", line_number, ": ", text.status().message()));
      }
      Offer(*std::move(text), std::move(reply), max_tokens, std::move(later_turns));
    }
    return absl::OkStatus();
  }
};

}  // namespace

namespace {

absl::StatusOr<std::vector<DatasetEntry>> LoadDataset(const llmbench::v1::DatasetPrompts& dataset,
                                                     const std::string& base_dir) {
  const std::string& shown = dataset.path();
  if (shown.empty()) return absl::InvalidArgumentError("prompts.dataset.path: required");
  const std::string resolved =
      shown[0] == '/' || base_dir.empty() ? shown : absl::StrCat(base_dir, "/", shown);
  std::string content;
  LLMBENCH_RETURN_IF_ERROR(ReadFile(resolved, shown, &content));
  DatasetReader reader{dataset, shown, {}, 0};
  const size_t first = content.find_first_not_of(" \t\r\n");
  const bool is_array = first != std::string::npos && content[first] == '[';
  LLMBENCH_RETURN_IF_ERROR(is_array ? reader.ReadArray(content) : reader.ReadLines(content));
  if (reader.texts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        shown, ": no prompts found (", reader.entries,
        " entries; entries without a human turn, empty ones and ones shorter than "
        "min_input_chars are skipped)"));
  }
  return std::move(reader.texts);
}

}  // namespace

uint32_t CountWords(const std::string& text) {
  uint32_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = absl::ascii_isspace(static_cast<unsigned char>(c));
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::vector<std::string_view> SyntheticVocabulary() {
  return std::vector<std::string_view>(std::begin(kVocabulary), std::end(kVocabulary));
}

uint32_t DrawLength(const llmbench::v1::TokenLengthDistribution& d, std::mt19937_64& rng) {
  using llmbench::v1::TokenLengthDistribution;
  const double low = std::max<double>(1, d.min());
  const double high = d.max() == 0 ? kMaxWords : std::min<double>(kMaxWords, d.max());
  switch (d.kind()) {
    case TokenLengthDistribution::KIND_UNIFORM: {
      const uint32_t lo = std::max<uint32_t>(1, d.min());
      const uint32_t hi = std::min(kMaxWords, std::max(lo, d.max()));
      return lo + static_cast<uint32_t>(UniformBelow(rng, uint64_t{hi} - lo + 1));
    }
    case TokenLengthDistribution::KIND_NORMAL: {
      const double value = std::round(d.mean() + d.stddev() * StandardNormal(rng));
      return static_cast<uint32_t>(std::clamp(value, low, std::max(low, high)));
    }
    case TokenLengthDistribution::KIND_LOGNORMAL: {
      // mu chosen so that the distribution's mean is `mean`: E[exp(N(mu, s^2))] = exp(mu + s^2/2).
      const double sigma = d.sigma();
      const double mu = std::log(std::max<double>(1, d.mean())) - sigma * sigma / 2;
      const double value = std::round(std::exp(mu + sigma * StandardNormal(rng)));
      return static_cast<uint32_t>(std::clamp(value, low, std::max(low, high)));
    }
    default:
      return std::clamp<uint32_t>(d.mean(), 1, kMaxWords);
  }
}

void AppendSyntheticWords(std::mt19937_64& rng, uint32_t count, std::string* out,
                          const std::vector<std::string_view>& vocabulary) {
  for (uint32_t i = 0; i < count; ++i) {
    if (!out->empty()) out->push_back(' ');
    const std::string_view word = vocabulary.empty()
                                      ? kVocabulary[UniformBelow(rng, kVocabularySize)]
                                      : vocabulary[UniformBelow(rng, vocabulary.size())];
    out->append(word.data(), word.size());
  }
}

absl::StatusOr<PromptPlan> PlanPrompts(const llmbench::v1::Prompts& prompts,
                                       const llmbench::v1::Generation& generation, uint64_t seed,
                                       const std::string& base_dir) {
  // Independent streams so that changing the prefix does not change the prompts' own words,
  // and output lengths do not change the prompts.
  std::mt19937_64 prefix_rng(SplitMix64(seed ^ 0x7072656669780000ULL));  // "prefix"
  std::mt19937_64 body_rng(SplitMix64(seed ^ 0x626f647900000000ULL));    // "body"
  std::mt19937_64 output_rng(SplitMix64(seed ^ 0x6f75747075740000ULL));  // "output"

  std::vector<std::string> prefixes;
  const uint32_t prefix_words =
      prompts.has_shared_prefix() ? prompts.shared_prefix().prefix_tokens() : 0;
  if (prefix_words > 0) {
    const uint32_t groups = std::max<uint32_t>(1, prompts.shared_prefix().groups());
    prefixes.resize(groups);
    for (std::string& prefix : prefixes) AppendSyntheticWords(prefix_rng, prefix_words, &prefix);
  }

  PromptPlan plan;
  std::vector<DatasetEntry> bodies;
  if (prompts.has_dataset()) {
    LLMBENCH_ASSIGN_OR_RETURN(bodies, LoadDataset(prompts.dataset(), base_dir));
  } else {
    plan.synthetic = true;
    const auto& synthetic = prompts.synthetic();
    bodies.resize(synthetic.count());
    for (DatasetEntry& body : bodies) {
      std::string words;
      const uint32_t length = DrawLength(synthetic.input_tokens(), body_rng);
      AppendSyntheticWords(body_rng, length, &words);
      body.text = std::move(words);
      plan.targets.push_back(length + prefix_words);
      plan.prefix_words.push_back(prefix_words);
    }
  }

  const bool from_dataset = prompts.has_dataset() && generation.output_tokens_from_dataset();
  plan.prompts.reserve(bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    Prompt prompt;
    if (prefixes.empty()) {
      prompt.set_text(std::move(*bodies[i].text));
    } else {
      prompt.set_text(absl::StrCat(prefixes[i % prefixes.size()], " ", *bodies[i].text));
    }
    prompt.set_approx_tokens(CountWords(prompt.text()));
    if (!prompts.system_prompt().empty()) prompt.set_system(prompts.system_prompt());
    // Output lengths: the dataset's (a number, or the reply's words until a counter recounts
    // it), else the distribution's; one draw per prompt either way, so that the drawn lengths
    // do not depend on which entries had a reply.
    std::optional<uint32_t> drawn;
    if (generation.has_output_tokens()) drawn = DrawLength(generation.output_tokens(), output_rng);
    std::string reply;
    if (from_dataset && bodies[i].max_tokens) {
      prompt.set_max_tokens(*bodies[i].max_tokens);
    } else if (from_dataset && !bodies[i].reply.empty()) {
      prompt.set_max_tokens(std::clamp<uint32_t>(CountWords(bodies[i].reply), 1, kMaxWords));
      reply = std::move(bodies[i].reply);
    } else if (drawn) {
      prompt.set_max_tokens(*drawn);
    }
    if (from_dataset) plan.replies.push_back(std::move(reply));
    plan.prompts.push_back(std::move(prompt));
  }
  if (prompts.has_multi_turn()) {
    std::vector<std::vector<std::string>> later;
    if (prompts.has_dataset()) {
      later.reserve(bodies.size());
      for (DatasetEntry& body : bodies) later.push_back(std::move(body.later_turns));
    }
    AddConversationTurns(prompts, seed, std::move(later), &plan.prompts);
  }
  return plan;
}

absl::StatusOr<std::vector<Prompt>> BuildPrompts(const llmbench::v1::Prompts& input, uint64_t seed,
                                                 const std::string& base_dir,
                                                 const llmbench::v1::Generation& generation) {
  // A prompts section built in code, not part of a resolved scenario: defaulted here.
  llmbench::v1::Prompts prompts = input;
  ApplyPromptsDefaults(&prompts);
  LLMBENCH_ASSIGN_OR_RETURN(PromptPlan plan, PlanPrompts(prompts, generation, seed, base_dir));
  return std::move(plan.prompts);
}


namespace {

absl::Status BadDist(absl::string_view why, const std::string& text) {
  return absl::InvalidArgumentError(
      absl::StrCat("--output-tokens-dist: ", why, ", got \"", text, "\""));
}

// A token count 1 .. 1 000 000 inside --output-tokens-dist.
absl::StatusOr<uint32_t> Tokens(absl::string_view part, const std::string& text) {
  uint32_t n = 0;
  if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 1'000'000) {
    return BadDist("token counts must be whole numbers from 1 to 1000000", text);
  }
  return n;
}

}  // namespace

absl::Status ParseOutputTokensDist(const std::string& text, v1::Generation* generation) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (lower == "dataset") {
    generation->set_output_tokens_from_dataset(true);
    return absl::OkStatus();
  }
  std::vector<absl::string_view> parts = absl::StrSplit(lower, ':');
  v1::TokenLengthDistribution d;
  const absl::string_view kind = parts[0];
  auto arity = [&](size_t min, size_t max) -> absl::Status {
    if (parts.size() < min || parts.size() > max) {
      return BadDist("expected fixed:N, uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX], "
                     "lognormal:MEAN:SIGMA[:MIN:MAX] or dataset",
                     text);
    }
    return absl::OkStatus();
  };
  if (kind == "fixed") {
    LLMBENCH_RETURN_IF_ERROR(arity(2, 2));
    d.set_kind(v1::TokenLengthDistribution::KIND_FIXED);
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t n, Tokens(parts[1], text));
    d.set_mean(n);
  } else if (kind == "uniform") {
    LLMBENCH_RETURN_IF_ERROR(arity(3, 3));
    d.set_kind(v1::TokenLengthDistribution::KIND_UNIFORM);
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t low, Tokens(parts[1], text));
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t high, Tokens(parts[2], text));
    if (high < low) return BadDist("uniform needs MIN <= MAX", text);
    d.set_min(low);
    d.set_max(high);
  } else if (kind == "normal" || kind == "lognormal") {
    LLMBENCH_RETURN_IF_ERROR(arity(3, 5));
    const bool normal = kind == "normal";
    d.set_kind(normal ? v1::TokenLengthDistribution::KIND_NORMAL
                      : v1::TokenLengthDistribution::KIND_LOGNORMAL);
    LLMBENCH_ASSIGN_OR_RETURN(uint32_t mean, Tokens(parts[1], text));
    d.set_mean(mean);
    double spread = 0;
    const double limit = normal ? 1'000'000 : 10;
    if (!absl::SimpleAtod(parts[2], &spread) || !std::isfinite(spread) || spread < 0 ||
        spread > limit) {
      return BadDist(normal ? "the normal's STDDEV must be between 0 and 1000000"
                            : "the lognormal's SIGMA must be between 0 and 10",
                     text);
    }
    normal ? d.set_stddev(spread) : d.set_sigma(spread);
    if (parts.size() >= 4) {
      LLMBENCH_ASSIGN_OR_RETURN(uint32_t low, Tokens(parts[3], text));
      d.set_min(low);
    }
    if (parts.size() == 5) {
      LLMBENCH_ASSIGN_OR_RETURN(uint32_t high, Tokens(parts[4], text));
      if (high < d.min()) return BadDist("needs MIN <= MAX", text);
      d.set_max(high);
    }
  } else {
    LLMBENCH_RETURN_IF_ERROR(arity(99, 0));  // always the "expected ..." message
  }
  *generation->mutable_output_tokens() = d;
  return absl::OkStatus();
}

}  // namespace llmbench::coordinator
