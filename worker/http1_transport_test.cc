// Http1Transport against a scripted server on loopback: each case answers the request with
// fixed bytes (sent one byte per send(2) with TCP_NODELAY, so the client sees the response in
// many reads) and checks what the parser and the record got. The loop is driven by hand.
#include "worker/http1_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace llmbench::worker {
namespace {

using llmbench::v1::RequestRecord;

// Accepts connections and, for every request read (up to the blank line + Content-Length),
// writes the next scripted response; closes the connection after a response when asked.
class ScriptedServer {
 public:
  struct Reply {
    std::string bytes;
    bool close_after = false;
  };
  explicit ScriptedServer(std::vector<Reply> replies) : replies_(std::move(replies)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void Serve() {
    size_t next = 0;
    while (next < replies_.size()) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      const int one = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      std::string in;
      while (next < replies_.size()) {
        // Read one request: head, then Content-Length bytes.
        size_t head_end;
        while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
          char buf[4096];
          const ssize_t n = ::read(c, buf, sizeof(buf));
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        if (head_end == std::string::npos) break;
        size_t length = 0;
        const size_t cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(in.substr(cl + 16));
        while (in.size() < head_end + 4 + length) {
          char buf[4096];
          const ssize_t n = ::read(c, buf, sizeof(buf));
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        in.erase(0, head_end + 4 + length);
        const Reply& reply = replies_[next++];
        for (char ch : reply.bytes) {
          if (::send(c, &ch, 1, MSG_NOSIGNAL) != 1) break;
        }
        if (reply.close_after) break;
      }
      ::close(c);
    }
  }

  std::vector<Reply> replies_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Records what the transport hands it.
class RecordingParser : public ResponseParser {
 public:
  struct Seen {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int slices = 0;
    bool finished = false;
    TransportError error;
  };
  explicit RecordingParser(Seen* seen) : seen_(seen) {}
  void OnStatus(int status, const std::vector<std::pair<std::string, std::string>>& headers)
      override {
    seen_->status = status;
    seen_->headers = headers;
  }
  void OnBody(std::string_view bytes, int64_t) override {
    seen_->body.append(bytes);
    ++seen_->slices;
  }
  void Finish(const TransportError& error) override {
    seen_->finished = true;
    seen_->error = error;
  }

 private:
  Seen* seen_;
};

struct Outcome {
  RecordingParser::Seen seen;
  std::unique_ptr<RequestRecord> record;
};

// Sends `count` requests one after another on one transport and returns what each got.
std::vector<Outcome> RunRequests(int port, int count, TransportConfig config = {}) {
  auto loop = EventLoop::Create();
  EXPECT_TRUE(loop.ok());
  config.base_url = absl::StrCat("http://127.0.0.1:", port);
  std::vector<Outcome> outcomes(static_cast<size_t>(count));
  int done = 0;
  std::unique_ptr<Http1Transport> transport;
  auto start = [&](int i) {
    HttpRequestSpec spec;
    spec.path = "/v1/completions";
    spec.body = R"({"prompt":"hi"})";
    auto record = std::make_unique<RequestRecord>();
    auto parser = std::make_unique<RecordingParser>(&outcomes[static_cast<size_t>(i)].seen);
    EXPECT_TRUE(transport->Start(spec, std::move(record), std::move(parser)).ok());
  };
  auto created = Http1Transport::Create(
      loop->get(), config, EventLoop::MonotonicNowNs(),
      [&](std::unique_ptr<RequestRecord> record) {
        outcomes[static_cast<size_t>(done)].record = std::move(record);
        ++done;
        if (done < count) start(done);
      });
  EXPECT_TRUE(created.ok()) << created.status();
  transport = *std::move(created);
  start(0);
  while (done < count) (*loop)->RunOnce(1000 * 1'000'000);
  transport.reset();
  return outcomes;
}

TEST(Http1TransportTest, ChunkedAfterA100ContinueWithExtensionsAndTrailersThenReuse) {
  ScriptedServer server(
      {{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\n"
        "X-Trailer: t\r\n\r\n"},
       {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"}});
  std::vector<Outcome> out = RunRequests(server.port(), 2);
  EXPECT_EQ(out[0].seen.status, 200);
  EXPECT_EQ(out[0].seen.body, "hello, world");
  EXPECT_EQ(out[0].seen.error.error_class, llmbench::v1::ERROR_CLASS_NONE);
  ASSERT_FALSE(out[0].seen.headers.empty());
  EXPECT_EQ(out[0].seen.headers[0].first, "content-type");  // names lower-cased
  EXPECT_EQ(out[1].seen.body, "again");
  EXPECT_EQ(server.connections(), 1) << "the keep-alive connection was reused";
  EXPECT_TRUE(out[0].record->has_connect_ns());
  EXPECT_FALSE(out[1].record->has_connect_ns());
  for (const Outcome& o : out) {
    EXPECT_TRUE(o.record->has_dispatch_delay_ns());
    EXPECT_EQ(o.record->dispatch_delay_ns(), o.record->sent_ns() - o.record->handed_ns());
    EXPECT_GE(o.record->end_ns(), o.record->sent_ns());
    EXPECT_GT(o.record->bytes_received(), 0u);
  }
}

TEST(Http1TransportTest, Http10BodyEndsWithTheConnectionAndIsNotReused) {
  ScriptedServer server({{"HTTP/1.0 200 OK\r\n\r\nuntil the end", true},
                         {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                          true},
                         {"HTTP/1.1 204 No Content\r\n\r\n"}});
  std::vector<Outcome> out = RunRequests(server.port(), 3);
  EXPECT_EQ(out[0].seen.body, "until the end");
  EXPECT_EQ(out[0].seen.error.error_class, llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(out[1].seen.body, "ok");
  EXPECT_EQ(out[2].seen.status, 204);
  EXPECT_EQ(out[2].seen.body, "");
  EXPECT_EQ(server.connections(), 3);
}

TEST(Http1TransportTest, MalformedAndTruncatedResponsesAreClassified) {
  ScriptedServer server({{"HTTP/1.1 2x0 OK\r\n\r\n", true},
                         {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true},
                         {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true},
                         {"", true}});
  std::vector<Outcome> out = RunRequests(server.port(), 4);
  EXPECT_EQ(out[0].seen.error.error_class, llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(out[0].seen.error.message, "malformed HTTP response: bad status line 'HTTP/1.1 2x0 OK'");
  EXPECT_EQ(out[1].seen.error.error_class, llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(out[1].seen.error.message,
            "the engine closed the connection with 7 bytes of the response body outstanding");
  EXPECT_EQ(out[1].seen.body, "abc");
  EXPECT_EQ(out[2].seen.error.error_class, llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(out[2].seen.error.message, "malformed HTTP response: bad chunk size line 'zz'");
  EXPECT_EQ(out[3].seen.error.error_class, llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(out[3].seen.error.message, absl::StrCat("the engine closed the connection before "
                                                    "any response (127.0.0.1:",
                                                    server.port(), ")"));
  EXPECT_EQ(out[3].seen.status, 0);
}

TEST(Http1TransportTest, BaseUrlsAndHeadersItCannotServeAreRefused) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto make = [&](TransportConfig config) {
    return Http1Transport::Create(loop->get(), std::move(config), 0, [](auto) {}).status();
  };
  TransportConfig tls;
  tls.base_url = "https://127.0.0.1:1";
  EXPECT_EQ(make(tls).message(),
            "the HTTP/1.1 transport serves http:// engines only, got 'https://127.0.0.1:1'");
  TransportConfig bad_port;
  bad_port.base_url = "http://127.0.0.1:99999";
  EXPECT_EQ(make(bad_port).message(),
            "engine base_url 'http://127.0.0.1:99999' has no valid host and port");
  TransportConfig injected;
  injected.base_url = "http://127.0.0.1:1";
  injected.headers = {{"x-a", "b\r\nx-evil: 1"}};
  EXPECT_EQ(make(injected).message(), "engine header 'x-a' has an empty name or a line break");
}

}  // namespace
}  // namespace llmbench::worker
