#include "coordinator/local_workers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "coordinator/worker_client.h"

namespace llmbench::coordinator {

namespace {

// A 0700 folder under $TMPDIR (or /tmp) holding one 0600 file with the token; removed (file
// and folder) by the destructor.
class TokenFile {
 public:
  static absl::StatusOr<std::unique_ptr<TokenFile>> Create(const std::string& token) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                       "/llmbench-token-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot create a folder for the local workers' token: ", std::strerror(errno)));
    }
    std::unique_ptr<TokenFile> file(new TokenFile(pattern));
    int fd = open(file->path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("cannot write the local workers' token file: ", std::strerror(errno)));
    }
    const ssize_t written = write(fd, token.data(), token.size());
    close(fd);
    if (written != static_cast<ssize_t>(token.size())) {
      return absl::InternalError("cannot write the local workers' token file");
    }
    return file;
  }
  ~TokenFile() {
    unlink(path().c_str());
    rmdir(dir_.c_str());
  }
  std::string path() const { return dir_ + "/token"; }

 private:
  explicit TokenFile(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace

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

absl::StatusOr<std::unique_ptr<LocalWorkers>> LocalWorkers::Start(
    int count, int loop_threads, const std::string& log_level,
    const std::vector<std::string>& api_key_envs) {
  std::unique_ptr<LocalWorkers> workers(new LocalWorkers());
  const std::string binary = FindWorkerBinary();
  absl::StatusOr<std::string> token = NewRandomToken();
  if (!token.ok()) return token.status();
  workers->token_ = *std::move(token);
  // Removed when Start returns: every worker has read it by then (or failed).
  absl::StatusOr<std::unique_ptr<TokenFile>> token_file = TokenFile::Create(workers->token_);
  if (!token_file.ok()) return token_file.status();
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> argv = {binary, "--listen", "127.0.0.1:0", "--loop-threads",
                                     std::to_string(loop_threads), "--log-level", log_level,
                                     "--token-file", (*token_file)->path(),
                                     "--exit-with-parent", std::to_string(getpid())};
    for (const std::string& name : api_key_envs) {
      argv.insert(argv.end(), {"--api-key-env", name});
    }
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
