#include "coordinator/worker_addresses.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace llmbench::coordinator {
namespace {

// gRPC target URIs are handed to gRPC unchanged.
constexpr std::array<const char*, 6> kGrpcSchemes = {"dns:", "ipv4:", "ipv6:",
                                                     "unix:", "unix-abstract:", "vsock:"};

// A numeric address in a form that sorts IPv4 before IPv6, then by its bytes.
struct NumericAddress {
  int order = 0;  // 4 or 6
  std::array<unsigned char, 16> bytes{};
  std::string text;  // canonical text (inet_ntop)

  bool operator<(const NumericAddress& other) const {
    return std::tie(order, bytes) < std::tie(other.order, other.bytes);
  }
  bool operator==(const NumericAddress& other) const {
    return order == other.order && bytes == other.bytes;
  }
};

bool ParseNumeric(const std::string& text, NumericAddress* out) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, text.c_str(), out->bytes.data()) == 1) {
    out->order = 4;
    inet_ntop(AF_INET, out->bytes.data(), buffer, sizeof(buffer));
  } else if (inet_pton(AF_INET6, text.c_str(), out->bytes.data()) == 1) {
    out->order = 6;
    inet_ntop(AF_INET6, out->bytes.data(), buffer, sizeof(buffer));
  } else {
    return false;
  }
  out->text = buffer;
  return true;
}

// RAII for getaddrinfo's list.
struct AddrInfoDeleter {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};

WorkerAddress AsGiven(const std::string& spec) { return WorkerAddress{spec, ""}; }

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  addrinfo* raw = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &raw);
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
  if (rc != 0) return absl::NotFoundError(gai_strerror(rc));
  std::vector<std::string> addresses;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    char buffer[INET6_ADDRSTRLEN] = {};
    const void* bytes = nullptr;
    if (ai->ai_family == AF_INET) {
      bytes = &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
    } else if (ai->ai_family == AF_INET6) {
      bytes = &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    if (inet_ntop(ai->ai_family, bytes, buffer, sizeof(buffer)) != nullptr) {
      addresses.emplace_back(buffer);
    }
  }
  return addresses;
}

absl::StatusOr<std::vector<WorkerAddress>> ExpandWorkerAddresses(
    const std::vector<std::string>& specs, const HostResolver& resolver) {
  std::vector<WorkerAddress> out;
  for (const std::string& raw : specs) {
    const std::string spec(absl::StripAsciiWhitespace(raw));
    if (spec.empty()) {
      return absl::InvalidArgumentError(
          "--workers: an empty entry (expected HOST:PORT, comma-separated)");
    }
    const std::string prefix = absl::StrCat("--workers ", spec, ": ");
    if (std::any_of(kGrpcSchemes.begin(), kGrpcSchemes.end(),
                    [&](const char* scheme) { return absl::StartsWith(spec, scheme); })) {
      out.push_back(AsGiven(spec));
      continue;
    }
    std::string host, port_text;
    bool bracketed = false;
    if (spec.front() == '[') {
      const size_t close = spec.find(']');
      if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
        return absl::InvalidArgumentError(absl::StrCat(prefix, "expected [IPv6]:PORT"));
      }
      host = spec.substr(1, close - 1);
      port_text = spec.substr(close + 2);
      bracketed = true;
    } else {
      const size_t colon = spec.rfind(':');
      if (colon == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(prefix, "no port (expected HOST:PORT)"));
      }
      host = spec.substr(0, colon);
      port_text = spec.substr(colon + 1);
      if (host.find(':') != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(prefix, "an IPv6 address goes in brackets: [ADDRESS]:PORT"));
      }
    }
    if (host.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(prefix, "no host (expected HOST:PORT)"));
    }
    int port = 0;
    if (port_text.empty() ||
        !std::all_of(port_text.begin(), port_text.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
        !absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, "port '", port_text, "' is not a number from 1 to 65535"));
    }
    NumericAddress literal;
    if (bracketed) {
      if (!ParseNumeric(host, &literal) || literal.order != 6) {
        return absl::InvalidArgumentError(
            absl::StrCat(prefix, "'", host, "' is not an IPv6 address"));
      }
      out.push_back(AsGiven(spec));
      continue;
    }
    if (ParseNumeric(host, &literal) || absl::EqualsIgnoreCase(host, "localhost")) {
      out.push_back(AsGiven(spec));
      continue;
    }

    absl::StatusOr<std::vector<std::string>> resolved = resolver(host);
    if (!resolved.ok()) {
      return absl::NotFoundError(
          absl::StrCat(prefix, "cannot resolve ", host, ": ", resolved.status().message()));
    }
    std::vector<NumericAddress> addresses;
    for (const std::string& text : *resolved) {
      NumericAddress address;
      if (!ParseNumeric(text, &address)) {
        return absl::InternalError(absl::StrCat(prefix, "the resolver returned '", text,
                                                "' for ", host, ", not an IP address"));
      }
      addresses.push_back(std::move(address));
    }
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    if (addresses.empty()) {
      return absl::NotFoundError(absl::StrCat(prefix, host, " resolves to no address"));
    }
    if (addresses.size() == 1) {
      out.push_back(AsGiven(spec));
      continue;
    }
    for (const NumericAddress& address : addresses) {
      out.push_back(WorkerAddress{
          address.order == 4 ? absl::StrCat(address.text, ":", port)
                             : absl::StrCat("[", address.text, "]:", port),
          host});
    }
  }
  return out;
}

}  // namespace llmbench::coordinator
