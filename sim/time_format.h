// Go-compatible time formatting for Ollama's created_at: RFC3339Nano in UTC with the
// fractional seconds' trailing zeros trimmed (0–9 digits, no '.' when the fraction is zero).
// Thread-safety: stateless.
#ifndef LLMBENCH_SIM_TIME_FORMAT_H_
#define LLMBENCH_SIM_TIME_FORMAT_H_

#include <cstdint>
#include <string>

namespace llmbench::sim {

// Appends e.g. "2025-07-07T20:22:19.2107Z" for `unix_ns` nanoseconds since the epoch.
void AppendRfc3339Nano(std::string& out, int64_t unix_ns);
std::string FormatRfc3339Nano(int64_t unix_ns);

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_TIME_FORMAT_H_
