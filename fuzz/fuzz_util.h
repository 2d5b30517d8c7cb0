// Small helpers shared by the fuzz targets: invariant checks that abort with a message, a
// deterministic slicer that cuts a body into pieces from a one-byte seed, and a UTF-8 check.
//
// Thread-compatible.
#ifndef LLMBENCH_FUZZ_FUZZ_UTIL_H_
#define LLMBENCH_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace llmbench::fuzz {

// Aborts (so that libFuzzer saves the input and a test dies) when `cond` is false.
#define LLMBENCH_FUZZ_CHECK(cond, what)                                                \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s (%s)\n", __FILE__,      \
                   __LINE__, #cond, what);                                             \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// Cuts a byte string into slices whose sizes come from a small LCG seeded by `seed`: sizes
// 1..(seed % 64 + 1), so that small seeds give tiny slices. seed 0: one slice.
class Slicer {
 public:
  Slicer(std::string_view bytes, uint8_t seed) : rest_(bytes), seed_(seed), state_(seed) {}

  // The next slice; false when none is left.
  bool Next(std::string_view* slice) {
    if (rest_.empty()) return false;
    size_t n = rest_.size();
    if (seed_ != 0) {
      state_ = state_ * 1103515245u + 12345u;
      n = 1 + (state_ >> 16) % (static_cast<uint32_t>(seed_ % 64) + 1);
      if (n > rest_.size()) n = rest_.size();
    }
    *slice = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }

 private:
  std::string_view rest_;
  uint8_t seed_;
  uint32_t state_;
};

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
inline bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned char c = byte(i);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace llmbench::fuzz

#endif  // LLMBENCH_FUZZ_FUZZ_UTIL_H_
