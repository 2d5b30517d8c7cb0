#include "coordinator/request_samples.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "coordinator/exporters.h"
#include "coordinator/request_metrics.h"
#include "coordinator/requests_csv.h"

namespace llmbench::coordinator {

void AddSample(const llmbench::v1::RequestRecord& record, SamplesByEngine* samples) {
  if (record.warmup()) return;
  const RequestMetrics m = MetricsOf(record);
  if (!m.success) return;
  RequestSamples& s = (*samples)[record.engine()];
  s.sent_ns.push_back(record.sent_ns());
  s.end_ns.push_back(record.end_ns());
  const double e2e_ms = static_cast<double>(m.e2e_ns) / 1e6;
  s.e2e_ms.push_back(e2e_ms);
  if (m.ttft_ns) {
    const double ttft_ms = static_cast<double>(*m.ttft_ns) / 1e6;
    s.ttft_ms.push_back(ttft_ms);
    if (m.tpot_ns) {
      s.tpot_ms.push_back((e2e_ms - ttft_ms) / static_cast<double>(record.output_tokens() - 1));
    }
  }
  ForEachGap(record, [&](int64_t gap) { s.itl_ms.push_back(static_cast<double>(gap) / 1e6); });
}

namespace {

absl::StatusOr<SamplesByEngine> ReadSamples(std::istream* in, const std::string& source) {
  RequestsCsvReader reader(in, source);
  SamplesByEngine out;
  llmbench::v1::RequestRecord record;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok()) return got.status();
    if (!*got) return out;
    AddSample(record, &out);
  }
}

}  // namespace

absl::StatusOr<SamplesByEngine> ParseRequestSamples(std::string_view csv,
                                                    const std::string& source) {
  std::istringstream in{std::string(csv)};
  return ReadSamples(&in, source);
}

absl::StatusOr<SamplesByEngine> LoadRequestSamples(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kRequestsFileName).string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  return ReadSamples(&in, path);
}

}  // namespace llmbench::coordinator
