#include "coordinator/tokenizer_json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "coordinator/prompts.h"
#include "simdjson.h"

namespace llmbench::coordinator {
namespace {

using simdjson::dom::array;

using simdjson::dom::element;
using simdjson::dom::object;

// ---- UTF-8 ---------------------------------------------------------------------------------

// The byte length of the UTF-8 sequence starting at s[i] (1 for an invalid byte).
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

UChar32 DecodeAt(std::string_view s, size_t i, size_t n) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (n == 1) return b;
  UChar32 c = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return c;
}

void AppendUtf8(UChar32 c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// The code points of `s` as (offset, length) pairs.
std::vector<std::pair<size_t, size_t>> CodePoints(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    out.emplace_back(i, n);
    i += n;
  }
  return out;
}

// Rust's char::is_whitespace (White_Space property).
bool IsWhitespace(UChar32 c) { return u_hasBinaryProperty(c, UCHAR_WHITE_SPACE) != 0; }

// HuggingFace's is_punctuation: ASCII punctuation or a Unicode P* category.
bool IsPunctuation(UChar32 c) {
  if (c < 0x80 && std::ispunct(static_cast<int>(c))) return true;
  const int8_t type = u_charType(c);
  return type == U_CONNECTOR_PUNCTUATION || type == U_DASH_PUNCTUATION ||
         type == U_START_PUNCTUATION || type == U_END_PUNCTUATION ||
         type == U_INITIAL_PUNCTUATION || type == U_FINAL_PUNCTUATION ||
         type == U_OTHER_PUNCTUATION;
}

bool IsChineseChar(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// ---- JSON helpers ---------------------------------------------------------------------------

std::optional<std::string_view> Str(element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<bool> Bool(element e, std::string_view key) {
  bool v = false;
  if (e[key].get_bool().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<element> Field(element e, std::string_view key) {
  element v;
  if (e[key].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
  return v;
}

// ---- regex ----------------------------------------------------------------------------------

struct Pcre2CodeDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
using Regex = std::shared_ptr<pcre2_code>;

absl::StatusOr<Regex> CompileRegex(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(Cat("regex \"", std::string(pattern),
                                          "\" does not compile at offset ", offset, ": ",
                                          reinterpret_cast<const char*>(message)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // a failed JIT falls back to the interpreter
  return Regex(code, Pcre2CodeDeleter());
}

// The non-empty matches of `regex` in `text` as (offset, length).
std::vector<std::pair<size_t, size_t>> FindAll(const Regex& regex, std::string_view text) {
  std::vector<std::pair<size_t, size_t>> out;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(regex.get(), nullptr);
  size_t start = 0;
  uint32_t options = 0;  // the first call checks that the text is valid UTF-8, later ones need not
  while (start <= text.size()) {
    const int rc = pcre2_match(regex.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                               start, options, data, nullptr);
    if (rc < 0) break;
    options = PCRE2_NO_UTF_CHECK;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end > begin) {
      out.emplace_back(begin, end - begin);
      start = end;
    } else {
      if (begin >= text.size()) break;
      start = begin + Utf8Length(text, begin);  // an empty match: move one character on
    }
  }
  pcre2_match_data_free(data);
  return out;
}

// ---- pipeline pieces ------------------------------------------------------------------------

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Splits `text` at the matches (offset, length) with HuggingFace's SplitDelimiterBehavior.
std::vector<std::string> SplitWith(std::string_view text,
                                   const std::vector<std::pair<size_t, size_t>>& matches,
                                   SplitBehavior behavior, bool invert) {
  // Segments: (text, is_match), covering the whole text in order.
  std::vector<std::pair<std::string_view, bool>> segments;
  size_t pos = 0;
  for (const auto& [offset, length] : matches) {
    if (offset > pos) segments.emplace_back(text.substr(pos, offset - pos), false);
    segments.emplace_back(text.substr(offset, length), true);
    pos = offset + length;
  }
  if (pos < text.size()) segments.emplace_back(text.substr(pos), false);
  if (invert) {
    for (auto& segment : segments) segment.second = !segment.second;
  }
  std::vector<std::string> out;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const auto& [piece, is_match] : segments) {
        if (!is_match) out.emplace_back(piece);
      }
      break;
    case SplitBehavior::kIsolated:
      for (const auto& segment : segments) out.emplace_back(segment.first);
      break;
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const auto& [piece, is_match] : segments) {
        if (is_match && previous_match && !out.empty()) {
          out.back().append(piece);
        } else {
          out.emplace_back(piece);
        }
        previous_match = is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& [piece, is_match] : segments) {
        if (is_match && !previous_match && !out.empty()) {
          out.back().append(piece);
        } else {
          out.emplace_back(piece);
        }
        previous_match = is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (const auto& [piece, is_match] : segments) {
        if (!is_match && previous_match && !out.empty()) {
          out.back().append(piece);
        } else {
          out.emplace_back(piece);
        }
        previous_match = is_match;
      }
      break;
    }
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const std::string& s) { return s.empty(); }),
            out.end());
  return out;
}

// GPT-2's byte-to-unicode table: printable bytes map to themselves, the others to U+0100 + n.
const std::vector<std::string>& ByteLevelChars() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> chars(256);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      std::string s;
      AppendUtf8(printable ? b : 256 + n++, &s);
      chars[b] = s;
    }
    return chars;
  }();
  return table;
}

constexpr char kGpt2Pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
constexpr char kMetaspace[] = "\xE2\x96\x81";  // U+2581

struct Normalizer {
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kStrip, kPrepend, kReplace, kBert };
  Kind kind = Kind::kNfc;
  std::string pattern, content;  // Replace (a string or a regex), Prepend (content)
  Regex regex;                   // Replace with a regex
  bool strip_left = true, strip_right = true;
  bool clean_text = true, chinese = true, strip_accents = false, lowercase = true;  // Bert
};

struct PreTokenizer {
  enum class Kind {
    kByteLevel,
    kSplit,
    kMetaspace,
    kWhitespace,
    kWhitespaceSplit,
    kBert,
    kDigits,
    kPunctuation
  };
  Kind kind = Kind::kWhitespace;
  bool add_prefix_space = false;  // ByteLevel
  bool use_regex = true;          // ByteLevel
  Regex regex;                    // ByteLevel (GPT-2), Split, Whitespace
  std::string literal;            // Split with a string pattern
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  std::string replacement = kMetaspace;  // Metaspace
  std::string prepend_scheme = "always";
  bool split = true;
  bool individual_digits = false;
};

std::string IcuNormalize(const icu::Normalizer2* normalizer, std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString in = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  icu::UnicodeString out = normalizer->normalize(in, status);
  if (U_FAILURE(status)) return std::string(text);
  std::string result;
  out.toUTF8String(result);
  return result;
}

const icu::Normalizer2* IcuInstance(Normalizer::Kind kind) {
  UErrorCode status = U_ZERO_ERROR;
  switch (kind) {
    case Normalizer::Kind::kNfc:
      return icu::Normalizer2::getNFCInstance(status);
    case Normalizer::Kind::kNfd:
      return icu::Normalizer2::getNFDInstance(status);
    case Normalizer::Kind::kNfkc:
      return icu::Normalizer2::getNFKCInstance(status);
    default:
      return icu::Normalizer2::getNFKDInstance(status);
  }
}

std::string Lowercase(std::string_view text) {
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  s.toLower(icu::Locale::getRoot());
  std::string out;
  s.toUTF8String(out);
  return out;
}

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string ApplyNormalizer(const Normalizer& n, std::string text) {
  switch (n.kind) {
    case Normalizer::Kind::kNfc:
    case Normalizer::Kind::kNfd:
    case Normalizer::Kind::kNfkc:
    case Normalizer::Kind::kNfkd:
      return IcuNormalize(IcuInstance(n.kind), text);
    case Normalizer::Kind::kLowercase:
      return Lowercase(text);
    case Normalizer::Kind::kStrip: {
      auto cps = CodePoints(text);
      size_t a = 0, b = cps.size();
      while (n.strip_left && a < b && IsWhitespace(DecodeAt(text, cps[a].first, cps[a].second)))
        ++a;
      while (n.strip_right && b > a &&
             IsWhitespace(DecodeAt(text, cps[b - 1].first, cps[b - 1].second))) {
        --b;
      }
      if (a == b) return "";
      return text.substr(cps[a].first, cps[b - 1].first + cps[b - 1].second - cps[a].first);
    }
    case Normalizer::Kind::kPrepend:
      return text.empty() ? text : n.content + text;
    case Normalizer::Kind::kReplace: {
      if (!n.regex) return ReplaceAll(text, n.pattern, n.content);
      std::string out;
      size_t pos = 0;
      for (const auto& [offset, length] : FindAll(n.regex, text)) {
        out.append(text, pos, offset - pos);
        out.append(n.content);
        pos = offset + length;
      }
      out.append(text, pos, std::string::npos);
      return out;
    }
    case Normalizer::Kind::kBert: {
      std::string out;
      for (const auto& [offset, length] : CodePoints(text)) {
        const UChar32 c = DecodeAt(text, offset, length);
        if (n.clean_text) {
          if (c == 0 || c == 0xFFFD) continue;
          if (c == '\t' || c == '\n' || c == '\r' || IsWhitespace(c)) {
            out.push_back(' ');
            continue;
          }
          const int8_t type = u_charType(c);
          if (type == U_CONTROL_CHAR || type == U_FORMAT_CHAR || type == U_PRIVATE_USE_CHAR ||
              type == U_SURROGATE || type == U_UNASSIGNED) {
            continue;
          }
        }
        if (n.chinese && IsChineseChar(c)) {
          out.push_back(' ');
          out.append(text, offset, length);
          out.push_back(' ');
          continue;
        }
        out.append(text, offset, length);
      }
      if (n.strip_accents) {
        std::string decomposed = IcuNormalize(IcuInstance(Normalizer::Kind::kNfd), out);
        out.clear();
        for (const auto& [offset, length] : CodePoints(decomposed)) {
          if (u_charType(DecodeAt(decomposed, offset, length)) == U_NON_SPACING_MARK) continue;
          out.append(decomposed, offset, length);
        }
      }
      if (n.lowercase) out = Lowercase(out);
      return out;
    }
  }
  return text;
}

// Splits every piece of `pieces` with `p`.
std::vector<std::string> ApplyPreTokenizer(const PreTokenizer& p, std::vector<std::string> pieces,
                                           bool first_in_text) {
  std::vector<std::string> out;
  for (size_t index = 0; index < pieces.size(); ++index) {
    std::string& piece = pieces[index];
    switch (p.kind) {
      case PreTokenizer::Kind::kByteLevel: {
        if (p.add_prefix_space && (piece.empty() || piece[0] != ' ')) piece.insert(0, " ");
        std::vector<std::string> parts =
            p.use_regex ? SplitWith(piece, FindAll(p.regex, piece), SplitBehavior::kIsolated, false)
                        : std::vector<std::string>{piece};
        const auto& table = ByteLevelChars();
        for (const std::string& part : parts) {
          std::string mapped;
          for (unsigned char b : part) mapped.append(table[b]);
          out.push_back(std::move(mapped));
        }
        break;
      }
      case PreTokenizer::Kind::kSplit: {
        std::vector<std::pair<size_t, size_t>> matches;
        if (p.regex) {
          matches = FindAll(p.regex, piece);
        } else if (!p.literal.empty()) {
          for (size_t pos = piece.find(p.literal); pos != std::string::npos;
               pos = piece.find(p.literal, pos + p.literal.size())) {
            matches.emplace_back(pos, p.literal.size());
          }
        }
        for (std::string& part : SplitWith(piece, matches, p.behavior, p.invert)) {
          out.push_back(std::move(part));
        }
        break;
      }
      case PreTokenizer::Kind::kMetaspace: {
        std::string replaced = ReplaceAll(piece, " ", p.replacement);
        const bool prepend = p.prepend_scheme == "always" ||
                             (p.prepend_scheme == "first" && index == 0 && first_in_text);
        if (prepend && replaced.rfind(p.replacement, 0) != 0) replaced.insert(0, p.replacement);
        if (!p.split) {
          out.push_back(std::move(replaced));
          break;
        }
        std::vector<std::pair<size_t, size_t>> matches;
        for (size_t pos = replaced.find(p.replacement); pos != std::string::npos;
             pos = replaced.find(p.replacement, pos + p.replacement.size())) {
          matches.emplace_back(pos, p.replacement.size());
        }
        for (std::string& part :
             SplitWith(replaced, matches, SplitBehavior::kMergedWithNext, false)) {
          out.push_back(std::move(part));
        }
        break;
      }
      case PreTokenizer::Kind::kWhitespace:
        for (const auto& [offset, length] : FindAll(p.regex, piece)) {
          out.emplace_back(piece.substr(offset, length));
        }
        break;
      case PreTokenizer::Kind::kWhitespaceSplit:
      case PreTokenizer::Kind::kBert:
      case PreTokenizer::Kind::kPunctuation:
      case PreTokenizer::Kind::kDigits: {
        std::string current;
        auto flush = [&] {
          if (!current.empty()) out.push_back(std::move(current));
          current.clear();
        };
        int previous_class = -1;  // Digits (contiguous): 1 digit, 0 other
        for (const auto& [offset, length] : CodePoints(piece)) {
          const UChar32 c = DecodeAt(piece, offset, length);
          const std::string_view ch(piece.data() + offset, length);
          if (p.kind == PreTokenizer::Kind::kWhitespaceSplit ||
              p.kind == PreTokenizer::Kind::kBert) {
            if (IsWhitespace(c)) {
              flush();
              continue;
            }
          }
          if ((p.kind == PreTokenizer::Kind::kBert || p.kind == PreTokenizer::Kind::kPunctuation) &&
              IsPunctuation(c)) {
            flush();
            out.emplace_back(ch);
            continue;
          }
          if (p.kind == PreTokenizer::Kind::kDigits) {
            const int digit_class = u_isdigit(c) ? 1 : 0;
            if (digit_class == 1 && p.individual_digits) {
              flush();
              out.emplace_back(ch);
              previous_class = 1;
              continue;
            }
            if (previous_class != -1 && digit_class != previous_class) flush();
            previous_class = digit_class;
          }
          current.append(ch);
        }
        flush();
        break;
      }
    }
  }
  return out;
}

struct PairHash {
  size_t operator()(const std::pair<uint32_t, uint32_t>& p) const {
    return std::hash<uint64_t>()((uint64_t{p.first} << 32) | p.second);
  }
};

struct AddedToken {
  std::string content;
  uint32_t id = 0;
};

}  // namespace

struct TokenizerJson::State {
  std::string name;
  std::string model_type;
  absl::flat_hash_map<std::string, uint32_t> vocab;
  std::unordered_map<std::pair<uint32_t, uint32_t>, std::pair<uint32_t, uint32_t>, PairHash>
      merges;  // (a, b) -> (rank, merged id)
  std::optional<uint32_t> unk_id;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  uint32_t max_input_chars_per_word = 100;
  std::vector<Normalizer> normalizers;
  std::vector<PreTokenizer> pre_tokenizers;
  std::vector<uint32_t> special_prefix;  // post-processor ids before the sequence
  std::vector<uint32_t> special_suffix;  // ... and after it
  std::vector<AddedToken> added;         // longest first
  mutable std::mutex cache_mu;
  mutable absl::flat_hash_map<std::string, std::vector<uint32_t>> cache;

  absl::Status Fail(std::string_view why) const {
    return absl::InvalidArgumentError(Cat(name, ": ", why));
  }

  // ---- loading ----

  absl::Status LoadModel(element model) {
    std::string_view type = Str(model, "type").value_or("");
    if (type.empty()) {
      // Old files leave out the type: WordPiece has continuing_subword_prefix and no merges.
      type = Field(model, "merges") ? "BPE" : "WordPiece";
    }
    model_type = std::string(type);
    object vocab_object;
    if (model["vocab"].get_object().get(vocab_object) != simdjson::SUCCESS) {
      if (type == "Unigram" || type == "WordLevel") {
        return Fail(Cat("model type \"", type, "\" is not supported (BPE and WordPiece are)"));
      }
      return Fail("model.vocab must be an object of token -> id");
    }
    if (type != "BPE" && type != "WordPiece") {
      return Fail(Cat("model type \"", type, "\" is not supported (BPE and WordPiece are)"));
    }
    for (auto field : vocab_object) {
      uint64_t id = 0;
      if (field.value.get_uint64().get(id) != simdjson::SUCCESS) {
        return Fail("model.vocab ids must be whole numbers");
      }
      vocab.emplace(std::string(field.key), static_cast<uint32_t>(id));
    }
    if (auto unk = Str(model, "unk_token")) {
      auto it = vocab.find(std::string(*unk));
      if (it != vocab.end()) unk_id = it->second;
    }
    fuse_unk = Bool(model, "fuse_unk").value_or(false);
    byte_fallback = Bool(model, "byte_fallback").value_or(false);
    ignore_merges = Bool(model, "ignore_merges").value_or(false);
    continuing_subword_prefix = std::string(
        Str(model, "continuing_subword_prefix").value_or(type == "WordPiece" ? "##" : ""));
    end_of_word_suffix = std::string(Str(model, "end_of_word_suffix").value_or(""));
    uint64_t max_chars = 0;
    if (model["max_input_chars_per_word"].get_uint64().get(max_chars) == simdjson::SUCCESS) {
      max_input_chars_per_word = static_cast<uint32_t>(max_chars);
    }
    if (type == "BPE") {
      array list;
      if (model["merges"].get_array().get(list) != simdjson::SUCCESS) {
        return Fail("model.merges must be a list");
      }
      uint32_t rank = 0;
      for (element merge : list) {
        std::string a, b;
        std::string_view text;
        array pair;
        if (merge.get_string().get(text) == simdjson::SUCCESS) {
          const size_t space = text.find(' ', 1);
          if (space == std::string_view::npos) return Fail("a merge must be \"a b\"");
          a = std::string(text.substr(0, space));
          b = std::string(text.substr(space + 1));
        } else if (merge.get_array().get(pair) == simdjson::SUCCESS && pair.size() == 2) {
          std::string_view x, y;
          if (pair.at(0).get_string().get(x) != simdjson::SUCCESS ||
              pair.at(1).get_string().get(y) != simdjson::SUCCESS) {
            return Fail("a merge must be a pair of strings");
          }
          a = std::string(x);
          b = std::string(y);
        } else {
          return Fail("a merge must be \"a b\" or [\"a\", \"b\"]");
        }
        auto ia = vocab.find(a);
        auto ib = vocab.find(b);
        std::string merged = a;
        if (!continuing_subword_prefix.empty() && b.rfind(continuing_subword_prefix, 0) == 0) {
          merged += b.substr(continuing_subword_prefix.size());
        } else {
          merged += b;
        }
        auto im = vocab.find(merged);
        if (ia == vocab.end() || ib == vocab.end() || im == vocab.end()) {
          return Fail(Cat("merge \"", a, " ", b, "\" names a token missing from the vocab"));
        }
        merges.emplace(std::make_pair(ia->second, ib->second), std::make_pair(rank++, im->second));
      }
    }
    return absl::OkStatus();
  }

  absl::Status LoadNormalizer(element n) {
    const std::string_view type = Str(n, "type").value_or("");
    Normalizer out;
    if (type == "Sequence") {
      array list;
      if (n["normalizers"].get_array().get(list) != simdjson::SUCCESS) {
        return Fail("normalizer Sequence needs \"normalizers\"");
      }
      for (element child : list) LLMBENCH_RETURN_IF_ERROR(LoadNormalizer(child));
      return absl::OkStatus();
    } else if (type == "NFC") {
      out.kind = Normalizer::Kind::kNfc;
    } else if (type == "NFD") {
      out.kind = Normalizer::Kind::kNfd;
    } else if (type == "NFKC") {
      out.kind = Normalizer::Kind::kNfkc;
    } else if (type == "NFKD") {
      out.kind = Normalizer::Kind::kNfkd;
    } else if (type == "Lowercase") {
      out.kind = Normalizer::Kind::kLowercase;
    } else if (type == "Strip") {
      out.kind = Normalizer::Kind::kStrip;
      out.strip_left = Bool(n, "strip_left").value_or(true);
      out.strip_right = Bool(n, "strip_right").value_or(true);
    } else if (type == "Prepend") {
      out.kind = Normalizer::Kind::kPrepend;
      out.content = std::string(Str(n, "prepend").value_or(""));
    } else if (type == "Replace") {
      out.kind = Normalizer::Kind::kReplace;
      out.content = std::string(Str(n, "content").value_or(""));
      if (auto pattern = Field(n, "pattern")) {
        if (auto s = Str(*pattern, "String")) {
          out.pattern = std::string(*s);
        } else if (auto r = Str(*pattern, "Regex")) {
          LLMBENCH_ASSIGN_OR_RETURN(out.regex, CompileRegex(*r));
        }
      }
    } else if (type == "BertNormalizer") {
      out.kind = Normalizer::Kind::kBert;
      out.clean_text = Bool(n, "clean_text").value_or(true);
      out.chinese = Bool(n, "handle_chinese_chars").value_or(true);
      out.lowercase = Bool(n, "lowercase").value_or(true);
      out.strip_accents = Bool(n, "strip_accents").value_or(out.lowercase);
    } else {
      return Fail(Cat("normalizer \"", type, "\" is not supported"));
    }
    normalizers.push_back(std::move(out));
    return absl::OkStatus();
  }

  absl::Status LoadPreTokenizer(element p) {
    const std::string_view type = Str(p, "type").value_or("");
    PreTokenizer out;
    if (type == "Sequence") {
      array list;
      if (p["pretokenizers"].get_array().get(list) != simdjson::SUCCESS) {
        return Fail("pre_tokenizer Sequence needs \"pretokenizers\"");
      }
      for (element child : list) LLMBENCH_RETURN_IF_ERROR(LoadPreTokenizer(child));
      return absl::OkStatus();
    } else if (type == "ByteLevel") {
      out.kind = PreTokenizer::Kind::kByteLevel;
      out.add_prefix_space = Bool(p, "add_prefix_space").value_or(true);
      out.use_regex = Bool(p, "use_regex").value_or(true);
      LLMBENCH_ASSIGN_OR_RETURN(out.regex, CompileRegex(kGpt2Pattern));
    } else if (type == "Split") {
      out.kind = PreTokenizer::Kind::kSplit;
      if (auto pattern = Field(p, "pattern")) {
        if (auto s = Str(*pattern, "String")) {
          out.literal = std::string(*s);
        } else if (auto r = Str(*pattern, "Regex")) {
          LLMBENCH_ASSIGN_OR_RETURN(out.regex, CompileRegex(*r));
        }
      }
      const std::string_view behavior = Str(p, "behavior").value_or("Isolated");
      if (behavior == "Removed") {
        out.behavior = SplitBehavior::kRemoved;
      } else if (behavior == "Isolated") {
        out.behavior = SplitBehavior::kIsolated;
      } else if (behavior == "MergedWithPrevious") {
        out.behavior = SplitBehavior::kMergedWithPrevious;
      } else if (behavior == "MergedWithNext") {
        out.behavior = SplitBehavior::kMergedWithNext;
      } else if (behavior == "Contiguous") {
        out.behavior = SplitBehavior::kContiguous;
      } else {
        return Fail(Cat("Split behavior \"", behavior, "\" is not supported"));
      }
      out.invert = Bool(p, "invert").value_or(false);
    } else if (type == "Metaspace") {
      out.kind = PreTokenizer::Kind::kMetaspace;
      out.replacement = std::string(Str(p, "replacement").value_or(kMetaspace));
      if (auto scheme = Str(p, "prepend_scheme")) {
        out.prepend_scheme = std::string(*scheme);
      } else {
        out.prepend_scheme = Bool(p, "add_prefix_space").value_or(true) ? "always" : "never";
      }
      out.split = Bool(p, "split").value_or(true);
    } else if (type == "Whitespace") {
      out.kind = PreTokenizer::Kind::kWhitespace;
      LLMBENCH_ASSIGN_OR_RETURN(out.regex, CompileRegex("\\w+|[^\\w\\s]+"));
    } else if (type == "WhitespaceSplit") {
      out.kind = PreTokenizer::Kind::kWhitespaceSplit;
    } else if (type == "BertPreTokenizer") {
      out.kind = PreTokenizer::Kind::kBert;
    } else if (type == "Punctuation") {
      out.kind = PreTokenizer::Kind::kPunctuation;
    } else if (type == "Digits") {
      out.kind = PreTokenizer::Kind::kDigits;
      out.individual_digits = Bool(p, "individual_digits").value_or(false);
    } else {
      return Fail(Cat("pre_tokenizer \"", type, "\" is not supported"));
    }
    pre_tokenizers.push_back(std::move(out));
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> VocabId(std::string_view token, std::string_view what) const {
    auto it = vocab.find(std::string(token));
    if (it != vocab.end()) return it->second;
    for (const AddedToken& a : added) {
      if (a.content == token) return a.id;
    }
    return Fail(Cat(what, " names token \"", token, "\", which is not in the vocab"));
  }

  absl::Status LoadPostProcessor(element p) {
    const std::string_view type = Str(p, "type").value_or("");
    if (type == "Sequence") {
      array list;
      if (p["processors"].get_array().get(list) != simdjson::SUCCESS) {
        return Fail("post_processor Sequence needs \"processors\"");
      }
      for (element child : list) LLMBENCH_RETURN_IF_ERROR(LoadPostProcessor(child));
      return absl::OkStatus();
    }
    if (type == "ByteLevel") return absl::OkStatus();
    if (type == "BertProcessing" || type == "RobertaProcessing") {
      // "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]: [CLS] A [SEP].
      array cls, sep;
      uint64_t cls_id = 0, sep_id = 0;
      if (p["cls"].get_array().get(cls) != simdjson::SUCCESS || cls.size() != 2 ||
          cls.at(1).get_uint64().get(cls_id) != simdjson::SUCCESS ||
          p["sep"].get_array().get(sep) != simdjson::SUCCESS || sep.size() != 2 ||
          sep.at(1).get_uint64().get(sep_id) != simdjson::SUCCESS) {
        return Fail(Cat(type, " needs \"cls\" and \"sep\" as [token, id]"));
      }
      special_prefix.push_back(static_cast<uint32_t>(cls_id));
      special_suffix.push_back(static_cast<uint32_t>(sep_id));
      return absl::OkStatus();
    }
    if (type == "TemplateProcessing") {
      array single;
      if (p["single"].get_array().get(single) != simdjson::SUCCESS) {
        return Fail("TemplateProcessing needs \"single\"");
      }
      bool after = false;
      for (element item : single) {
        if (Field(item, "Sequence")) {
          after = true;
          continue;
        }
        auto special = Field(item, "SpecialToken");
        if (!special) return Fail("TemplateProcessing items are Sequence or SpecialToken");
        const std::string_view id = Str(*special, "id").value_or("");
        std::vector<uint32_t> ids;
        element entry;
        array id_list;
        if (p["special_tokens"][id].get(entry) == simdjson::SUCCESS &&
            entry["ids"].get_array().get(id_list) == simdjson::SUCCESS) {
          for (element x : id_list) {
            uint64_t v = 0;
            if (x.get_uint64().get(v) == simdjson::SUCCESS) ids.push_back(static_cast<uint32_t>(v));
          }
        } else {
          LLMBENCH_ASSIGN_OR_RETURN(uint32_t v, VocabId(id, "TemplateProcessing"));
          ids.push_back(v);
        }
        auto& target = after ? special_suffix : special_prefix;
        target.insert(target.end(), ids.begin(), ids.end());
      }
      return absl::OkStatus();
    }
    return Fail(Cat("post_processor \"", type, "\" is not supported"));
  }

  // ---- encoding ----

  void EncodeWordPiece(const std::string& word, std::vector<uint32_t>* out) const {
    const auto cps = CodePoints(word);
    const uint32_t unk = unk_id.value_or(0);
    if (cps.size() > max_input_chars_per_word) {
      out->push_back(unk);
      return;
    }
    std::vector<uint32_t> pieces;
    size_t start = 0;
    while (start < cps.size()) {
      size_t end = cps.size();
      std::optional<uint32_t> found;
      while (end > start) {
        std::string sub = word.substr(cps[start].first,
                                      cps[end - 1].first + cps[end - 1].second - cps[start].first);
        if (start > 0) sub.insert(0, continuing_subword_prefix);
        auto it = vocab.find(sub);
        if (it != vocab.end()) {
          found = it->second;
          break;
        }
        --end;
      }
      if (!found) {
        out->push_back(unk);
        return;
      }
      pieces.push_back(*found);
      start = end;
    }
    out->insert(out->end(), pieces.begin(), pieces.end());
  }

  // HuggingFace's BPE word merge: the lowest-ranked pair first (leftmost among equal ranks),
  // with a heap and a linked list of symbols, so that long words stay O(n log n).
  void EncodeBpe(const std::string& word, std::vector<uint32_t>* out) const {
    if (ignore_merges) {
      auto it = vocab.find(word);
      if (it != vocab.end()) {
        out->push_back(it->second);
        return;
      }
    }
    struct Symbol {
      uint32_t id;
      int prev, next;
      bool alive;
    };
    std::vector<Symbol> symbols;
    const auto cps = CodePoints(word);
    bool last_unk = false;
    for (size_t i = 0; i < cps.size(); ++i) {
      std::string piece = word.substr(cps[i].first, cps[i].second);
      if (i > 0 && !continuing_subword_prefix.empty()) piece.insert(0, continuing_subword_prefix);
      if (i + 1 == cps.size() && !end_of_word_suffix.empty()) piece += end_of_word_suffix;
      auto it = vocab.find(piece);
      if (it != vocab.end()) {
        symbols.push_back({it->second, 0, 0, true});
        last_unk = false;
        continue;
      }
      if (byte_fallback) {
        std::vector<uint32_t> bytes;
        for (size_t k = 0; k < cps[i].second; ++k) {
          auto b = vocab.find(
              absl::StrFormat("<0x%02X>", static_cast<unsigned char>(word[cps[i].first + k])));
          if (b == vocab.end()) {
            bytes.clear();
            break;
          }
          bytes.push_back(b->second);
        }
        if (!bytes.empty()) {
          for (uint32_t id : bytes) symbols.push_back({id, 0, 0, true});
          last_unk = false;
          continue;
        }
      }
      if (fuse_unk && last_unk) continue;
      symbols.push_back({unk_id.value_or(0), 0, 0, true});
      last_unk = true;
    }
    const int n = static_cast<int>(symbols.size());
    for (int i = 0; i < n; ++i) {
      symbols[i].prev = i - 1;
      symbols[i].next = i + 1 < n ? i + 1 : -1;
    }
    struct Merge {
      uint32_t rank;
      int pos;
      uint32_t new_id;
      bool operator>(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Merge, std::vector<Merge>, std::greater<>> queue;
    auto push = [&](int pos) {
      if (pos < 0 || symbols[pos].next < 0) return;
      auto it = merges.find({symbols[pos].id, symbols[symbols[pos].next].id});
      if (it != merges.end()) queue.push({it->second.first, pos, it->second.second});
    };
    for (int i = 0; i + 1 < n; ++i) push(i);
    while (!queue.empty()) {
      const Merge top = queue.top();
      queue.pop();
      Symbol& left = symbols[top.pos];
      if (!left.alive || left.next < 0) continue;
      Symbol& right = symbols[left.next];
      auto it = merges.find({left.id, right.id});
      if (it == merges.end() || it->second.second != top.new_id || it->second.first != top.rank) {
        continue;  // stale: one side was merged since
      }
      left.id = top.new_id;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.pos;
      push(left.prev);
      push(top.pos);
    }
    // Merges keep the left symbol, so the first one stays alive and heads the list.
    for (int i = n > 0 ? 0 : -1; i >= 0; i = symbols[i].next) out->push_back(symbols[i].id);
  }

  void EncodeWord(const std::string& word, std::vector<uint32_t>* out) const {
    {
      std::lock_guard<std::mutex> lock(cache_mu);
      auto it = cache.find(word);
      if (it != cache.end()) {
        out->insert(out->end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<uint32_t> ids;
    if (model_type == "WordPiece") {
      EncodeWordPiece(word, &ids);
    } else {
      EncodeBpe(word, &ids);
    }
    out->insert(out->end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mu);
    // Words repeat; a SentencePiece-style text without a splitting pre-tokenizer is one long
    // "word" that does not: only short ones are kept (bounded memory).
    if (word.size() <= 64 && cache.size() < 200'000) cache.emplace(word, std::move(ids));
  }

  void EncodeSegment(std::string_view segment, bool first_in_text,
                     std::vector<uint32_t>* out) const {
    std::string text(segment);
    for (const Normalizer& n : normalizers) text = ApplyNormalizer(n, std::move(text));
    std::vector<std::string> pieces{text};
    for (const PreTokenizer& p : pre_tokenizers) {
      pieces = ApplyPreTokenizer(p, std::move(pieces), first_in_text);
    }
    for (const std::string& piece : pieces) {
      if (!piece.empty()) EncodeWord(piece, out);
    }
  }
};

TokenizerJson::TokenizerJson(std::unique_ptr<State> state) : state_(std::move(state)) {}
TokenizerJson::~TokenizerJson() = default;

absl::StatusOr<std::unique_ptr<TokenizerJson>> TokenizerJson::Load(const std::string& path) {
  absl::StatusOr<int> fd = OpenDatasetFile(path);  // regular files only, at most 1 GiB
  if (!fd.ok()) {
    return absl::InvalidArgumentError(Cat(path, ": cannot read: ", fd.status().message()));
  }
  std::string content;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(*fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(*fd);
  return Parse(content, path);
}

absl::StatusOr<std::unique_ptr<TokenizerJson>> TokenizerJson::Parse(std::string_view json,
                                                                    const std::string& name) {
  auto state = std::make_unique<State>();
  state->name = name;
  simdjson::dom::parser parser;
  element root;
  if (auto error = parser.parse(simdjson::padded_string(json)).get(root);
      error != simdjson::SUCCESS) {
    return state->Fail(Cat("invalid JSON: ", simdjson::error_message(error)));
  }
  auto model = Field(root, "model");
  if (!model) return state->Fail("no \"model\": not a tokenizer.json");
  LLMBENCH_RETURN_IF_ERROR(state->LoadModel(*model));
  array added;
  if (root["added_tokens"].get_array().get(added) == simdjson::SUCCESS) {
    for (element token : added) {
      uint64_t id = 0;
      auto content = Str(token, "content");
      if (!content || content->empty() || token["id"].get_uint64().get(id) != simdjson::SUCCESS) {
        continue;
      }
      state->added.push_back({std::string(*content), static_cast<uint32_t>(id)});
    }
    std::stable_sort(state->added.begin(), state->added.end(),
                     [](const AddedToken& a, const AddedToken& b) {
                       return a.content.size() > b.content.size();
                     });
  }
  if (auto n = Field(root, "normalizer")) LLMBENCH_RETURN_IF_ERROR(state->LoadNormalizer(*n));
  if (auto p = Field(root, "pre_tokenizer")) LLMBENCH_RETURN_IF_ERROR(state->LoadPreTokenizer(*p));
  if (auto p = Field(root, "post_processor")) {
    LLMBENCH_RETURN_IF_ERROR(state->LoadPostProcessor(*p));
  }
  return std::unique_ptr<TokenizerJson>(new TokenizerJson(std::move(state)));
}

std::vector<uint32_t> TokenizerJson::Encode(std::string_view text, bool add_special_tokens) const {
  std::vector<uint32_t> ids;
  if (add_special_tokens) {
    ids.insert(ids.end(), state_->special_prefix.begin(), state_->special_prefix.end());
  }
  // Added tokens are cut out of the text first (longest at each position), one token each.
  size_t pos = 0;
  size_t segment_start = 0;
  bool first = true;
  while (pos < text.size()) {
    const AddedToken* hit = nullptr;
    if (!state_->added.empty()) {
      for (const AddedToken& a : state_->added) {
        if (text.compare(pos, a.content.size(), a.content) == 0) {
          hit = &a;
          break;
        }
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    if (pos > segment_start) {
      state_->EncodeSegment(text.substr(segment_start, pos - segment_start), first, &ids);
    }
    first = false;
    ids.push_back(hit->id);
    pos += hit->content.size();
    segment_start = pos;
  }
  if (segment_start < text.size()) state_->EncodeSegment(text.substr(segment_start), first, &ids);
  if (add_special_tokens) {
    ids.insert(ids.end(), state_->special_suffix.begin(), state_->special_suffix.end());
  }
  return ids;
}

uint32_t TokenizerJson::Count(std::string_view text, bool add_special_tokens) const {
  return static_cast<uint32_t>(Encode(text, add_special_tokens).size());
}

uint32_t TokenizerJson::SpecialTokensAdded() const {
  return static_cast<uint32_t>(state_->special_prefix.size() + state_->special_suffix.size());
}

const std::string& TokenizerJson::model_type() const { return state_->model_type; }

}  // namespace llmbench::coordinator
