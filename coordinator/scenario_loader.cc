#include "coordinator/scenario_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"

namespace llmbench::coordinator {
namespace {

using llmbench::v1::Scenario;

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::StatusOr<Scenario> ParseScenarioYaml(std::string_view yaml, std::string_view filename,
                                           const std::string& base_dir) {
  ScenarioSourceMap source{std::string(filename)};
  LLMBENCH_ASSIGN_OR_RETURN(Scenario scenario, MapScenarioYaml(yaml, &source));
  ApplyScenarioDefaults(&scenario);
  ValidateOptions options;
  options.base_dir = base_dir;
  options.source = &source;
  LLMBENCH_RETURN_IF_ERROR(ValidateScenario(scenario, options));
  return scenario;
}

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": cannot read: ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read: ",
                     std::strerror(S_ISDIR(info.st_mode) ? EISDIR : errno)));
  }
  if (static_cast<uint64_t>(info.st_size) > kMaxScenarioBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(
        ScenarioFileError(path, SourcePosition{},
                          absl::StrCat("file is too large (", info.st_size,
                                       " bytes; the limit is ", kMaxScenarioBytes, ")")));
  }
  std::string content;
  // A file that grew past the limit while it was read is refused by the parse's own size check.
  absl::StatusOr<bool> over = ReadToEndBounded(fd, kMaxScenarioBytes, &content);
  if (!over.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read: ", over.status().message()));
  }
  return ParseScenarioYaml(content, path, DirName(path));
}

}  // namespace llmbench::coordinator
