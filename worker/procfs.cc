#include "worker/procfs.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/absl_string_view.h"
#include "common/status.h"

namespace llmbench::worker {
namespace {

std::vector<absl::string_view> Fields(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

absl::StatusOr<uint64_t> ParseCount(absl::string_view text, absl::string_view what) {
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", text.substr(0, 40), "\" is not a non-negative integer"));
  }
  return value;
}

// The value of a "Key:   123 kB" line, in bytes.
absl::StatusOr<uint64_t> KilobyteField(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) continue;
    std::vector<absl::string_view> fields = Fields(line);
    if (fields.size() != 2 || fields[1] != "kB") {
      return absl::InvalidArgumentError(absl::StrCat(key, ": expected \"<number> kB\", got \"",
                                                     absl::StripAsciiWhitespace(line).substr(0, 40),
                                                     "\""));
    }
    LLMBENCH_ASSIGN_OR_RETURN(uint64_t kb, ParseCount(fields[0], key));
    if (kb > (UINT64_MAX >> 10)) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": ", kb, " kB is out of range"));
    }
    return kb * 1024;
  }
  return absl::InvalidArgumentError(absl::StrCat("no ", key, " line"));
}

}  // namespace

absl::StatusOr<HostCpuTimes> ParseProcStat(std::string_view text) {
  HostCpuTimes times;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    std::vector<absl::string_view> fields = Fields(line);
    if (fields.empty()) continue;
    if (fields[0] == "cpu") {
      // user nice system idle [iowait irq softirq steal [guest guest_nice]]
      if (fields.size() < 5) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the \"cpu\" line has ", fields.size() - 1, " values, expected at least 4"));
      }
      uint64_t* slots[] = {&times.user, &times.nice,    &times.system,  &times.idle,
                           &times.iowait, &times.irq, &times.softirq, &times.steal};
      for (size_t i = 0; i < std::size(slots) && i + 1 < fields.size(); ++i) {
        LLMBENCH_ASSIGN_OR_RETURN(*slots[i],
                                  ParseCount(fields[i + 1], absl::StrCat("\"cpu\" value ", i + 1)));
      }
      found = true;
    } else if (fields[0].size() > 3 && absl::StartsWith(fields[0], "cpu") &&
               fields[0][3] >= '0' && fields[0][3] <= '9') {
      ++times.cores;
    }
  }
  if (!found) return absl::InvalidArgumentError("no aggregate \"cpu\" line");
  return times;
}

absl::StatusOr<HostMemory> ParseMeminfo(std::string_view text) {
  HostMemory memory;
  LLMBENCH_ASSIGN_OR_RETURN(memory.total_bytes, KilobyteField(ToAbsl(text), "MemTotal"));
  LLMBENCH_ASSIGN_OR_RETURN(memory.available_bytes, KilobyteField(ToAbsl(text), "MemAvailable"));
  if (memory.available_bytes > memory.total_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("MemAvailable ", memory.available_bytes,
                                                   " B exceeds MemTotal ", memory.total_bytes,
                                                   " B"));
  }
  return memory;
}

absl::StatusOr<NetCounters> ParseNetDev(std::string_view text) {
  NetCounters counters;
  bool header = false;
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (line.find('|') != absl::string_view::npos) {  // the two header lines
      header = true;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line \"", absl::StripAsciiWhitespace(line).substr(0, 40), "\" has no \"IFACE:\""));
    }
    const absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, colon));
    std::vector<absl::string_view> fields = Fields(line.substr(colon + 1));
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes ...
    if (fields.size() < 9) {
      return absl::InvalidArgumentError(absl::StrCat("interface ", name, " has ", fields.size(),
                                                     " counters, expected 16"));
    }
    LLMBENCH_ASSIGN_OR_RETURN(uint64_t rx, ParseCount(fields[0], absl::StrCat(name, " rx bytes")));
    LLMBENCH_ASSIGN_OR_RETURN(uint64_t tx, ParseCount(fields[8], absl::StrCat(name, " tx bytes")));
    if (name == "lo") continue;
    counters.rx_bytes += rx;
    counters.tx_bytes += tx;
  }
  if (!header) return absl::InvalidArgumentError("no header line (not a /proc/net/dev file)");
  return counters;
}

absl::StatusOr<ProcessCpuTicks> ParseProcessStat(std::string_view text) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. Field 3 (state) is index 0 after it; utime is field 14, stime 15.
  const size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) {
    return absl::InvalidArgumentError("no \"(comm)\" field");
  }
  std::vector<absl::string_view> fields = Fields(ToAbsl(text.substr(paren + 1)));
  if (fields.size() < 13) {
    return absl::InvalidArgumentError(
        absl::StrCat(fields.size() + 2, " fields, expected at least 15"));
  }
  ProcessCpuTicks ticks;
  LLMBENCH_ASSIGN_OR_RETURN(ticks.utime, ParseCount(fields[11], "utime (field 14)"));
  LLMBENCH_ASSIGN_OR_RETURN(ticks.stime, ParseCount(fields[12], "stime (field 15)"));
  return ticks;
}

absl::StatusOr<uint64_t> ParseProcessStatusRss(std::string_view text) {
  return KilobyteField(ToAbsl(text), "VmRSS");
}

ProcfsReader::ProcfsReader(std::string root) : root_(std::move(root)) {}

namespace {

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat(path, ": read failed"));
  return text.str();
}

// Reads root/name and parses it, prefixing any error with the path.
template <typename T, typename Parser>
absl::StatusOr<T> ReadParsed(const std::string& root, const char* name, Parser parse) {
  const std::string path = absl::StrCat(root, "/", name);
  LLMBENCH_ASSIGN_OR_RETURN(std::string text, ReadWhole(path));
  absl::StatusOr<T> parsed = parse(text);
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(path, ": ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace

absl::StatusOr<ProcfsSnapshot> ProcfsReader::Read() const {
  ProcfsSnapshot s;
  LLMBENCH_ASSIGN_OR_RETURN(s.host_cpu, ReadParsed<HostCpuTimes>(root_, "stat", ParseProcStat));
  LLMBENCH_ASSIGN_OR_RETURN(s.memory, ReadParsed<HostMemory>(root_, "meminfo", ParseMeminfo));
  LLMBENCH_ASSIGN_OR_RETURN(s.net, ReadParsed<NetCounters>(root_, "net/dev", ParseNetDev));
  LLMBENCH_ASSIGN_OR_RETURN(s.process_cpu,
                            ReadParsed<ProcessCpuTicks>(root_, "self/stat", ParseProcessStat));
  LLMBENCH_ASSIGN_OR_RETURN(
      s.process_rss_bytes, ReadParsed<uint64_t>(root_, "self/status", ParseProcessStatusRss));
  return s;
}

}  // namespace llmbench::worker
