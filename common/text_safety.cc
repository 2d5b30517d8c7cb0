#include "common/text_safety.h"

#include <algorithm>
#include <cstdio>

namespace llmbench {

void AppendEscapedControlCharacters(std::string_view text, std::string* out) {
  out->reserve(out->size() + text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    char escape[8];
    if (c < 0x20 || c == 0x7f) {
      std::snprintf(escape, sizeof(escape), "\\x%02x", c);
      out->append(escape);
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      std::snprintf(escape, sizeof(escape), "\\u%04x",
                    static_cast<unsigned>(static_cast<unsigned char>(text[i + 1])));
      out->append(escape);
      ++i;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

std::string EscapeControlCharacters(std::string_view text) {
  std::string out;
  AppendEscapedControlCharacters(text, &out);
  return out;
}

bool RedactSecret(std::string* text, std::string_view secret) {
  if (secret.empty()) return false;
  bool found = false;
  for (size_t at = text->find(secret); at != std::string::npos;
       at = text->find(secret, at + sizeof(kRedacted) - 1)) {
    text->replace(at, secret.size(), kRedacted);
    found = true;
  }
  // A message cut to a bounded length may end with the start of the secret.
  constexpr size_t kMinTail = 8;
  for (size_t n = std::min(text->size(), secret.size() - 1); n >= kMinTail; --n) {
    if (std::string_view(*text).substr(text->size() - n) == secret.substr(0, n)) {
      text->replace(text->size() - n, n, kRedacted);
      found = true;
      break;
    }
  }
  return found;
}

}  // namespace llmbench
