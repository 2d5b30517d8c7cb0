#include "tests/harness/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "engines/curl_handles.h"

extern char** environ;

namespace llmbench::testing {
namespace {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Wraps posix_spawn_file_actions_t.
class SpawnActions {
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

// ---- Subprocess ------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(std::vector<std::string> argv,
                                                              std::vector<std::string> extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("Subprocess::Start: empty argv");
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  Fd err_read(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  SpawnActions actions;
  // dup2 clears FD_CLOEXEC on the target, so the child keeps only fds 0, 1 and 2.
  posix_spawn_file_actions_adddup2(actions.get(), out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(actions.get(), err_write.get(), STDERR_FILENO);
  posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  std::vector<char*> c_argv;
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (char** e = environ; *e != nullptr; ++e) c_env.push_back(*e);
  for (std::string& e : extra_env) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, c_argv[0], actions.get(), nullptr, c_argv.data(), c_env.data());
  if (rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  out_write.Reset();
  err_write.Reset();
  std::unique_ptr<Subprocess> process(
      new Subprocess(std::move(argv), pid, out_read.Release(), err_read.Release()));
  return process;
}

Subprocess::Subprocess(std::vector<std::string> argv, pid_t pid, int out_fd, int err_fd)
    : argv_(std::move(argv)), pid_(pid) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  drain_thread_ = std::thread([this, out_fd, err_fd] { DrainLoop(out_fd, err_fd); });
}

Subprocess::~Subprocess() {
  Stop();
  // A grandchild may hold the pipes open; wake the drain thread so it never blocks teardown.
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
  if (drain_thread_.joinable()) drain_thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Subprocess::DrainLoop(int out_fd, int err_fd) {
  Fd out(out_fd);
  Fd err(err_fd);
  char buf[65536];
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd fds[3] = {{out_open ? out.get() : -1, POLLIN, 0},
                     {err_open ? err.get() : -1, POLLIN, 0},
                     {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (got <= 0) {
        // stdout_closed_ is set only once both streams ended (below), so that a caller who
        // saw stdout close also sees all of stderr.
        if (i == 0) {
          out_open = false;
        } else {
          err_open = false;
        }
      } else if (i == 0) {
        stdout_partial_.append(buf, static_cast<size_t>(got));
        size_t pos;
        while ((pos = stdout_partial_.find('\n')) != std::string::npos) {
          stdout_lines_.push_back(stdout_partial_.substr(0, pos));
          stdout_partial_.erase(0, pos + 1);
        }
      } else {
        stderr_.append(buf, static_cast<size_t>(got));
      }
      cv_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  stdout_closed_ = true;
  cv_.notify_all();
}

absl::StatusOr<std::pair<size_t, std::string>> Subprocess::WaitForStdoutLine(
    size_t from_line, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  bool ready = cv_.wait_for(lock, timeout, [&] {
    return stdout_lines_.size() > from_line || stdout_closed_;
  });
  if (stdout_lines_.size() > from_line) {
    return std::make_pair(from_line, stdout_lines_[from_line]);
  }
  if (!ready) {
    return absl::DeadlineExceededError(absl::StrCat("no stdout line from ", argv_[0], " within ",
                                                    timeout.count(), " ms"));
  }
  return absl::FailedPreconditionError(absl::StrCat(argv_[0], " closed stdout"));
}

std::vector<std::string> Subprocess::StdoutLines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stdout_lines_;
}

std::string Subprocess::Stderr() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stderr_;
}

void Subprocess::Signal(int sig) {
  if (!exit_status_.has_value() && pid_ > 0) ::kill(pid_, sig);
}

absl::StatusOr<ExitStatus> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exit_status_.has_value()) return *exit_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      ExitStatus s;
      if (WIFEXITED(status)) {
        s.exited = true;
        s.code = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        s.signal = WTERMSIG(status);
      }
      exit_status_ = s;
      // Everything the child wrote is read before its status is returned: its pipes end when
      // it (and anything that inherited them) exits, so this wait is short. A grandchild that
      // keeps them open is not waited for past a few seconds.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stdout_closed_; });
      return s;
    }
    if (r < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(argv_[0], " (pid ", pid_, ") still running after ", timeout.count(), " ms"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

ExitStatus Subprocess::Stop(std::chrono::milliseconds grace) {
  if (exit_status_.has_value()) return *exit_status_;
  Signal(SIGTERM);
  absl::StatusOr<ExitStatus> status = Wait(grace);
  if (status.ok()) return *status;
  Signal(SIGKILL);
  status = Wait(std::chrono::seconds(30));
  if (status.ok()) return *status;
  return ExitStatus{};
}

// ---- SimProcess ------------------------------------------------------------------------------

std::string SimBinaryPath() { return std::string(LLMBENCH_HARNESS_BINARY_DIR) + "/sim/llmbench-sim"; }

absl::StatusOr<std::unique_ptr<SimProcess>> SimProcess::Start(Options options) {
  std::vector<std::string> argv = {options.binary.empty() ? SimBinaryPath() : options.binary};
  for (const std::string& kind : options.kinds) {
    argv.push_back("--listen");
    argv.push_back(kind + "=127.0.0.1:0");
  }
  for (std::string& arg : options.args) argv.push_back(std::move(arg));
  const std::string command_line = absl::StrJoin(argv, " ");

  std::unique_ptr<SimProcess> sim(new SimProcess());
  LLMBENCH_ASSIGN_OR_RETURN(sim->process_, Subprocess::Start(std::move(argv)));

  auto deadline = std::chrono::steady_clock::now() + options.startup_timeout;
  size_t next_line = 0;
  while (sim->urls_.size() < options.kinds.size()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    absl::StatusOr<std::pair<size_t, std::string>> line =
        sim->process_->WaitForStdoutLine(next_line, std::max(left, std::chrono::milliseconds(0)));
    if (!line.ok()) {
      // Give a dying child a moment so its stderr is complete.
      absl::StatusOr<ExitStatus> exit = sim->process_->Wait(std::chrono::milliseconds(200));
      std::string how = exit.ok() ? (exit->exited ? absl::StrCat("exited with code ", exit->code)
                                                  : absl::StrCat("killed by signal ", exit->signal))
                                  : "still running";
      return absl::DeadlineExceededError(absl::StrCat(
          "llmbench-sim did not print a `listening` line for every listener (got ",
          sim->urls_.size(), " of ", options.kinds.size(), "; ", line.status().message(), "; ",
          how, ")\ncommand: ", command_line, "\nstdout:\n",
          absl::StrJoin(sim->process_->StdoutLines(), "\n"), "\nstderr:\n",
          sim->process_->Stderr()));
    }
    next_line = line->first + 1;
    // "listening KIND http://HOST:PORT"
    std::vector<std::string> parts = absl::StrSplit(line->second, ' ', absl::SkipEmpty());
    if (parts.size() != 3 || parts[0] != "listening" || !absl::StartsWith(parts[2], "http://")) {
      continue;  // unrelated output
    }
    size_t colon = parts[2].rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(parts[2].substr(colon + 1), &port) ||
        port <= 0 || port > 65535) {
      return absl::InternalError(
          absl::StrCat("llmbench-sim printed a bad listening line: '", line->second, "'"));
    }
    sim->urls_[parts[1]] = parts[2];
    sim->ports_[parts[1]] = port;
  }
  return sim;
}

const std::string& SimProcess::BaseUrl(std::string_view kind) const {
  auto it = urls_.find(kind);
  if (it == urls_.end()) {
    static const std::string kNone = "http://127.0.0.1:1/no-such-listener";
    return kNone;
  }
  return it->second;
}

int SimProcess::Port(std::string_view kind) const {
  auto it = ports_.find(kind);
  return it == ports_.end() ? 0 : it->second;
}

// ---- HTTP ------------------------------------------------------------------------------------

namespace {

void GlobalCurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  HttpResponse* response;
  bool keep_chunks;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * nmemb;
  sink->response->body.append(data, n);
  if (sink->keep_chunks) {
    sink->response->chunks.push_back({std::string(data, n), std::chrono::steady_clock::now()});
  }
  return n;
}

size_t OnHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  size_t n = size * nmemb;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    response->headers.clear();  // a new response (e.g. after 100-continue)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name = absl::AsciiStrToLower(line.substr(0, colon));
  std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  response->headers.emplace_back(std::move(name), std::move(value));
  return n;
}

HttpResponse Perform(const std::string& url, const std::string* body, const HttpOptions& options) {
  GlobalCurlInit();
  HttpResponse response;
  engines::CurlEasyPtr curl(curl_easy_init());
  if (!curl) {
    response.curl_code = CURLE_FAILED_INIT;
    response.curl_error = "curl_easy_init failed";
    return response;
  }
  char error[CURL_ERROR_SIZE] = {0};
  Sink sink{&response, options.keep_chunks};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  if (options.timeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  }
  engines::CurlSlistPtr headers;
  bool has_content_type = false;
  for (const std::string& h : options.headers) {
    if (absl::StartsWithIgnoreCase(h, "content-type:")) has_content_type = true;
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  }
  if (body != nullptr) {
    if (!has_content_type) {
      headers.reset(curl_slist_append(headers.release(), "Content-Type: application/json"));
    }
    // No "Expect: 100-continue" round trip for large bodies.
    headers.reset(curl_slist_append(headers.release(), "Expect:"));
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  response.start = std::chrono::steady_clock::now();
  CURLcode code = curl_easy_perform(c);
  response.end = std::chrono::steady_clock::now();
  response.curl_code = static_cast<int>(code);
  if (code != CURLE_OK) {
    response.curl_error = error[0] != '\0' ? error : curl_easy_strerror(code);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, absl::string_view(name.data(), name.size()))) return value;
  }
  return std::nullopt;
}

HttpResponse HttpGet(const std::string& url, const HttpOptions& options) {
  return Perform(url, nullptr, options);
}

HttpResponse HttpPost(const std::string& url, std::string_view body, const HttpOptions& options) {
  std::string copy(body);
  return Perform(url, &copy, options);
}

std::vector<std::vector<std::string>> ParseCsvRecords(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    any = true;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  if (any) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace llmbench::testing
