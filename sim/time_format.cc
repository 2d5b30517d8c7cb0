#include "sim/time_format.h"

#include <cstdio>

namespace llmbench::sim {
namespace {

// Howard Hinnant's civil_from_days.
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

}  // namespace

void AppendRfc3339Nano(std::string& out, int64_t unix_ns) {
  int64_t secs = unix_ns / 1'000'000'000;
  int64_t frac = unix_ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[48];
  int n = std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02d",
                        static_cast<long long>(y), m, d, static_cast<int>(sod / 3600),
                        static_cast<int>((sod / 60) % 60), static_cast<int>(sod % 60));
  out.append(buf, static_cast<size_t>(n));
  if (frac != 0) {
    char f[10];
    std::snprintf(f, sizeof(f), "%09lld", static_cast<long long>(frac));
    int len = 9;
    while (len > 0 && f[len - 1] == '0') --len;
    out.push_back('.');
    out.append(f, static_cast<size_t>(len));
  }
  out.push_back('Z');
}

std::string FormatRfc3339Nano(int64_t unix_ns) {
  std::string s;
  AppendRfc3339Nano(s, unix_ns);
  return s;
}

}  // namespace llmbench::sim
