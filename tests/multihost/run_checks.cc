#include "tests/multihost/run_checks.h"

#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "tests/harness/harness.h"

namespace llmbench::testing {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<uint64_t> ProcStatusKib(pid_t pid, absl::string_view key) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    absl::string_view view = line;
    if (!absl::ConsumePrefix(&view, key) || !absl::ConsumePrefix(&view, ":")) continue;
    view = absl::StripAsciiWhitespace(view);
    absl::ConsumeSuffix(&view, "kB");
    uint64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(view), &kib)) return kib;
  }
  return absl::NotFoundError(absl::StrCat("no ", key, " in ", path));
}

}  // namespace

absl::StatusOr<llmbench::v1::RunResult> ReadSummary(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/summary.json");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  llmbench::v1::RunResult result;
  google::protobuf::util::JsonParseOptions options;
  auto status = google::protobuf::util::JsonStringToMessage(*text, &result, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.ToString()));
  }
  return result;
}

absl::StatusOr<std::vector<CsvRow>> ReadRequestsCsv(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/requests.csv");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<std::vector<std::string>> records = ParseCsvRecords(*text);
  if (records.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no header"));
  const std::vector<std::string>& header = records[0];
  std::vector<CsvRow> rows;
  for (size_t r = 1; r < records.size(); ++r) {
    const std::vector<std::string>& fields = records[r];
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": row ", r, " has ", fields.size(),
                                                     " fields, the header ", header.size()));
    }
    CsvRow row;
    for (size_t i = 0; i < header.size(); ++i) row.columns[header[i]] = fields[i];
    if (!absl::SimpleAtoi(row.columns["request_id"], &row.request_id)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": row ", r, ": bad request_id"));
    }
    row.worker_id = row.columns["worker_id"];
    row.engine = row.columns["engine"];
    row.warmup = row.columns["warmup"] == "true";
    row.error_class = row.columns["error_class"];
    (void)absl::SimpleAtoi(row.columns["sent_ns"], &row.sent_ns);
    (void)absl::SimpleAtoi(row.columns["end_ns"], &row.end_ns);
    rows.push_back(std::move(row));
  }
  return rows;
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PeakRssKib(pid_t pid) { return ProcStatusKib(pid, "VmHWM"); }
absl::StatusOr<uint64_t> RssKib(pid_t pid) { return ProcStatusKib(pid, "VmRSS"); }

absl::StatusOr<std::string> MakeTempDir(const std::string& stem) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", stem,
                                     "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  return pattern;
}

int64_t UnixNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace llmbench::testing
