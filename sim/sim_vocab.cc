#include "sim/sim_vocab.h"

#include <algorithm>
#include <array>

namespace llmbench::sim {
namespace {

constexpr std::array<std::string_view, 32> kWords = {
    " lorem",   " ipsum",  " dolor",   " sit",     " amet",    " consectetur", " adipiscing",
    " elit",    " sed",    " do",      " eiusmod", " tempor",  " incididunt",  " ut",
    " labore",  " et",     " dolore",  " magna",   " aliqua",  " enim",        " ad",
    " minim",   " veniam", " quis",    " nostrud", " ullamco", " laboris",     " nisi",
    " aliquip", " ex",     " ea",      " commodo"};
constexpr std::array<std::string_view, 8> kLogprobs = {"-0.25", "-0.5", "-0.75", "-1.0",
                                                       "-1.25", "-1.5", "-1.75", "0.0"};
constexpr int64_t kFirstVocabId = 1000;

size_t Pick(uint64_t key, int index) {
  return static_cast<size_t>(MixKey(key + static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL) %
                             kWords.size());
}

}  // namespace

uint64_t MixKey(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t RequestKey(uint64_t seed, uint64_t request_no) {
  return MixKey(seed * 0x100000001B3ULL + request_no);
}

std::string_view VocabToken(uint64_t key, int index) { return kWords[Pick(key, index)]; }

int64_t VocabTokenId(uint64_t key, int index) {
  return kFirstVocabId + static_cast<int64_t>(Pick(key, index));
}

std::string_view VocabLogprob(uint64_t key, int index) {
  return kLogprobs[Pick(key, index) % kLogprobs.size()];
}

std::vector<int64_t> WordTokenIds(std::string_view text) {
  std::vector<int64_t> ids;
  size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size()) break;
    uint64_t h = 1469598103934665603ULL;  // FNV-1a
    while (i < text.size() && !space(text[i])) {
      h = (h ^ static_cast<unsigned char>(text[i])) * 1099511628211ULL;
      ++i;
    }
    ids.push_back(2000 + static_cast<int64_t>(h % 30000));
  }
  return ids;
}

std::string TokenIdText(int64_t id) {
  if (id >= kFirstVocabId && id < kFirstVocabId + static_cast<int64_t>(kWords.size())) {
    return std::string(kWords[static_cast<size_t>(id - kFirstVocabId)]);
  }
  return " <" + std::to_string(id) + ">";
}

std::vector<SimToken> Tokenize(std::string_view text, TokenRule rule) {
  std::vector<SimToken> tokens;
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size()) break;
    const size_t start = i;
    while (i < text.size() && !space(text[i])) ++i;
    const size_t piece = rule == TokenRule::kSubword4 ? 4 : i - start;
    for (size_t p = start; p < i; p += piece) {
      const size_t length = std::min(piece, i - p);
      tokens.push_back({WordTokenIds(text.substr(p, length)).front(), p, length});
    }
  }
  return tokens;
}

int CountTokens(std::string_view text, TokenRule rule) {
  if (rule == TokenRule::kWords) return static_cast<int>(WordTokenIds(text).size());
  return static_cast<int>(Tokenize(text, rule).size());
}

}  // namespace llmbench::sim
