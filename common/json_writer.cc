#include "common/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace llmbench {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendU4(std::string& out, uint32_t cp) {
  char buf[6] = {'\\', 'u', kHex[(cp >> 12) & 0xF], kHex[(cp >> 8) & 0xF], kHex[(cp >> 4) & 0xF],
                 kHex[cp & 0xF]};
  out.append(buf, 6);
}

// Decodes one UTF-8 sequence at s[i]; returns its length (0 when invalid) and the code point.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s, JsonEscape mode) {
  out.push_back('"');
  size_t i = 0;
  size_t run_start = 0;
  const size_t n = s.size();
  auto flush = [&](size_t end) {
    if (end > run_start) out.append(s.data() + run_start, end - run_start);
  };
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      if (mode == JsonEscape::kGoHtml && (c == '<' || c == '>' || c == '&')) {
        flush(i);
        AppendU4(out, c);
        run_start = ++i;
        continue;
      }
      ++i;
      continue;
    }
    if (c < 0x80) {
      flush(i);
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b':
          if (mode == JsonEscape::kGoHtml) {
            AppendU4(out, c);
          } else {
            out.append("\\b");
          }
          break;
        case '\f':
          if (mode == JsonEscape::kGoHtml) {
            AppendU4(out, c);
          } else {
            out.append("\\f");
          }
          break;
        default: AppendU4(out, c); break;
      }
      run_start = ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(s, i, cp);
    if (len == 0) {
      flush(i);
      if (mode == JsonEscape::kAscii) {
        out.append("\\ufffd");
      } else {
        out.append("\xEF\xBF\xBD");
      }
      run_start = ++i;
      continue;
    }
    if (mode == JsonEscape::kAscii) {
      flush(i);
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        AppendU4(out, 0xD800 + (v >> 10));
        AppendU4(out, 0xDC00 + (v & 0x3FF));
      } else {
        AppendU4(out, cp);
      }
      i += len;
      run_start = i;
      continue;
    }
    if (mode == JsonEscape::kGoHtml && (cp == 0x2028 || cp == 0x2029)) {
      flush(i);
      AppendU4(out, cp);
      i += len;
      run_start = i;
      continue;
    }
    i += len;
  }
  flush(n);
  out.push_back('"');
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out.append(buf, static_cast<size_t>(ptr - buf));
}

void AppendShortestDouble(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append(std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf"));
    return;
  }
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  (void)ec;
  std::string_view text(buf, static_cast<size_t>(ptr - buf));
  out.append(text);
  if (text.find('.') == std::string_view::npos) out.append(".0");
}

void AppendPythonFloat(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append(std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"));
    return;
  }
  const double a = std::fabs(v);
  if (a != 0.0 && (a < 1e-4 || a >= 1e16)) {
    char buf[64];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    (void)ec;
    out.append(buf, static_cast<size_t>(ptr - buf));
    return;
  }
  AppendShortestDouble(out, v);
}

}  // namespace llmbench
