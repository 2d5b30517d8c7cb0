#include "coordinator/local_workers.h"

#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace llmbench::coordinator {

std::string FindWorkerBinary() {
  if (const char* env = std::getenv("LLMBENCH_WORKER_BIN"); env != nullptr && *env != '\0') {
    return env;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    std::filesystem::path dir = std::filesystem::path(self).parent_path();
    for (const std::filesystem::path& candidate :
         {dir / "llmbench-worker", dir.parent_path() / "worker" / "llmbench-worker"}) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
    }
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    for (absl::string_view entry : absl::StrSplit(path, ':')) {
      std::filesystem::path candidate = std::filesystem::path(std::string(entry)) / "llmbench-worker";
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return "llmbench-worker";
}

absl::StatusOr<std::unique_ptr<LocalWorkers>> LocalWorkers::Start(int count, int loop_threads,
                                                                  const std::string& log_level) {
  std::unique_ptr<LocalWorkers> workers(new LocalWorkers());
  const std::string binary = FindWorkerBinary();
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> argv = {binary, "--listen", "127.0.0.1:0", "--loop-threads",
                                     std::to_string(loop_threads), "--log-level", log_level};
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv);
    if (!process.ok()) {
      return absl::Status(process.status().code(),
                          absl::StrCat("starting local worker ", i, ": ", process.status().message()));
    }
    absl::StatusOr<std::string> line = (*process)->WaitForLine("listening grpc://", 20000);
    if (!line.ok()) {
      return absl::UnavailableError(absl::StrCat("local worker ", i, " (", binary,
                                                 ") did not report its port: ",
                                                 line.status().message()));
    }
    workers->addresses_.push_back(line->substr(std::string("listening grpc://").size()));
    workers->processes_.push_back(std::move(*process));
  }
  return workers;
}

LocalWorkers::~LocalWorkers() {
  for (auto& p : processes_) p->Signal(SIGTERM);
  for (auto& p : processes_) p->Stop(5000);
}

}  // namespace llmbench::coordinator
