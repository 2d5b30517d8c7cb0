#include "sim/sim_config.h"

#include <charconv>

#include "absl/status/status.h"
#include "common/str_cat.h"

namespace llmbench::sim {
namespace {

std::string_view Strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct FaultName {
  FaultKind kind;
  std::string_view name;
};
constexpr FaultName kFaultNames[] = {
    {FaultKind::kStatus400, "status_400"},     {FaultKind::kStatus404, "status_404"},
    {FaultKind::kStatus422, "status_422"},     {FaultKind::kStatus429, "status_429"},
    {FaultKind::kStatus500, "status_500"},     {FaultKind::kStatus503, "status_503"},
    {FaultKind::kStreamError, "stream_error"}, {FaultKind::kReset, "reset"},
    {FaultKind::kStall, "stall"},              {FaultKind::kMalformed, "malformed"},
    {FaultKind::kSplitUtf8, "split_utf8"},     {FaultKind::kHugeLine, "huge_line"},
};

}  // namespace

std::string_view EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kOllama: return "ollama";
    case EngineKind::kVllm: return "vllm";
    case EngineKind::kTgi: return "tgi";
  }
  return "?";
}

absl::StatusOr<ListenSpec> ParseListenSpec(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError(
        Cat("--listen '", text, "': expected KIND=HOST:PORT (KIND: ollama|vllm|tgi)"));
  }
  ListenSpec spec;
  const std::string_view kind = text.substr(0, eq);
  if (kind == "ollama") {
    spec.kind = EngineKind::kOllama;
  } else if (kind == "vllm") {
    spec.kind = EngineKind::kVllm;
  } else if (kind == "tgi") {
    spec.kind = EngineKind::kTgi;
  } else {
    return absl::InvalidArgumentError(
        Cat("--listen '", text, "': unknown engine kind '", kind, "' (ollama|vllm|tgi)"));
  }
  const std::string_view addr = text.substr(eq + 1);
  const size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(Cat("--listen '", text, "': expected HOST:PORT"));
  }
  std::string_view host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port_text = addr.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return absl::InvalidArgumentError(
        Cat("--listen '", text, "': bad port '", port_text, "' (0..65535)"));
  }
  spec.host = std::string(host);
  spec.port = static_cast<uint16_t>(port);
  return spec;
}

absl::StatusOr<FaultKind> ParseFaultKind(std::string_view text) {
  for (const auto& f : kFaultNames) {
    if (f.name == text) return f.kind;
  }
  return absl::InvalidArgumentError(Cat(
      "unknown fault kind '", text,
      "' (status_400|status_404|status_422|status_429|status_500|status_503|stream_error|reset|"
      "stall|malformed|split_utf8|huge_line)"));
}

absl::StatusOr<FaultSpec> ParseFaultHeader(std::string_view text) {
  FaultSpec spec;
  const size_t semi = text.find(';');
  const std::string_view kind = Strip(text.substr(0, semi));
  auto parsed = ParseFaultKind(kind);
  if (!parsed.ok()) return parsed.status();
  spec.kind = *parsed;
  if (semi == std::string_view::npos) return spec;
  const std::string_view param = Strip(text.substr(semi + 1));
  constexpr std::string_view kAfter = "after=";
  if (param.substr(0, kAfter.size()) != kAfter) {
    return absl::InvalidArgumentError(
        Cat("fault parameter '", param, "': expected after=N"));
  }
  const std::string_view num = param.substr(kAfter.size());
  int after = 0;
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), after);
  if (ec != std::errc() || ptr != num.data() + num.size() || num.empty() || after < 0) {
    return absl::InvalidArgumentError(
        Cat("fault parameter '", param, "': after must be an integer >= 0"));
  }
  spec.after = after;
  return spec;
}

std::string_view FaultKindName(FaultKind kind) {
  for (const auto& f : kFaultNames) {
    if (f.kind == kind) return f.name;
  }
  return "none";
}

int FaultStatus(FaultKind kind) {
  switch (kind) {
    case FaultKind::kStatus400: return 400;
    case FaultKind::kStatus404: return 404;
    case FaultKind::kStatus422: return 422;
    case FaultKind::kStatus429: return 429;
    case FaultKind::kStatus500: return 500;
    case FaultKind::kStatus503: return 503;
    default: return 0;
  }
}

const std::vector<FaultKind>& AllFaultKinds() {
  static const std::vector<FaultKind> kinds = [] {
    std::vector<FaultKind> v;
    for (const auto& f : kFaultNames) v.push_back(f.kind);
    return v;
  }();
  return kinds;
}

}  // namespace llmbench::sim
