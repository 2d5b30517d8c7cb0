#include "sim/http_session.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <variant>

#include "common/json_writer.h"
#include "common/str_cat.h"
#include "sim/faults.h"
#include "sim/protocol_writers.h"
#include "sim/routes.h"
#include "sim/sim_server.h"
#include "sim/sim_vocab.h"
#include "sim/token_render.h"

namespace llmbench::sim {

namespace {

constexpr int64_t kStallLimitNs = 600'000'000'000;

std::string_view Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 422: return "Unprocessable Entity";
    case 424: return "Failed Dependency";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace

void Session::OnToken(const SchedulerEvent& ev) {
  RenderEvent(ev);
  UpdateBackpressure();
}

size_t Session::BeginEvent() { return BeginChunk(Buf(), chunked_); }

void Session::EndEvent(size_t pos) { EndChunk(Buf(), pos, chunked_); }

void Session::UpdateBackpressure() {
  const bool over = gen_ && !closed_ && Unwritten() > kMaxUnwrittenBytes;
  if (over == stalled_) return;
  if (stalled_ && stalled_seq_ != 0) engine_.SetStalled(stalled_seq_, false, &ctx_);
  stalled_ = over;
  stalled_seq_ = over ? gen_->seq : 0;
  if (over) engine_.SetStalled(stalled_seq_, true, &ctx_);
}

void Session::StartWatch() {
  if (watching_ || closed_ || buffer_.size() >= kMaxPipelinedBytes) return;
  watching_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
    if (ec) {
      self->OnWatch(ec, 0);
      return;
    }
    const ssize_t n = self->RecvStamped(4096);
    if (n < 0) {  // spurious wake-up: wait again
      self->watching_ = false;
      if (self->read_after_watch_) {
        self->read_after_watch_ = false;
        self->DoRead();
        return;
      }
      self->StartWatch();
      return;
    }
    self->OnWatch(n == 0 ? beast::error_code(asio::error::eof) : beast::error_code(),
                  static_cast<size_t>(n));
  });
}

void Session::OnWatch(beast::error_code ec, size_t /*n*/) {
  watching_ = false;
  if (closed_) return;
  if (read_after_watch_) {  // the response ended: read the next request
    read_after_watch_ = false;
    DoRead();
    return;
  }
  if (ec == asio::error::operation_aborted) return;
  if (ec) {  // the client went away: cancel the sequence and free everything now
    Abort();
    return;
  }
  StartWatch();
}

ssize_t Session::RecvStamped(size_t max) {
  const bool was_empty = buffer_.size() == 0;
  auto space = buffer_.prepare(max);
  iovec iov{space.data(), space.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec)) + 64];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -1;
  if (n <= 0) return 0;
  buffer_.commit(static_cast<size_t>(n));
  if (was_empty) {
    buffered_arrival_ns_ = NowNs();
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        buffered_arrival_ns_ =
            engine_.FromUnixNs(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
      }
    }
  }
  return n;
}

void Session::DoRead() {
  if (watching_) {  // the watch read must end first (it may hold bytes of this request)
    read_after_watch_ = true;
    beast::error_code ignored;
    socket_.cancel(ignored);
    return;
  }
  parser_.emplace();
  parser_->body_limit(256u * 1024 * 1024);
  parser_->header_limit(64 * 1024);
  if (buffer_.size() > 0) {  // bytes of this request already read (pipelined / watch)
    arrival_ns_ = buffered_arrival_ns_;
    ParseRequest();
    return;
  }
  // Wait for the request's first bytes, read them with their kernel receive timestamp, then
  // let Beast parse (and read the rest, if any).
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](beast::error_code ec) {
                       if (ec || self->closed_) {
                         self->Close();
                         return;
                       }
                       const ssize_t n = self->RecvStamped(64 * 1024);
                       if (n < 0) {
                         self->DoRead();
                         return;
                       }
                       if (n == 0) {  // closed or reset between requests
                         self->Close();
                         return;
                       }
                       self->arrival_ns_ = self->buffered_arrival_ns_;
                       self->ParseRequest();
                     });
}

void Session::ParseRequest() {
  http::async_read(socket_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void Session::OnRead(beast::error_code ec) {
  if (ec) {
    if (ec != http::error::end_of_stream && ec != asio::error::eof &&
        ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
      // Malformed HTTP: answer 400 and close.
      if (!closed_) {
        keep_alive_ = false;
        WriteSimple(400, "text/plain; charset=utf-8", "Bad Request", {});
        return;
      }
    }
    Close();
    return;
  }
  // Bytes left after this request belong to a later one, whose arrival is not known.
  if (buffer_.size() > 0) buffered_arrival_ns_ = -1;
  const auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  RouteRequest(*this, engine_, req);
}

void Session::WriteSimple(int status, std::string_view content_type, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string& b = Buf();
  AppendHead(b, status, content_type, extra);
  b.append("content-length: ");
  AppendInt(b, static_cast<int64_t>(body.size()));
  b.append("\r\n\r\n");
  b.append(body);
  response_done_ = true;
  Flush();
}

void Session::AppendHead(std::string& b, int status, std::string_view content_type,
                         const std::vector<std::pair<std::string, std::string>>& extra) {
  b.append("HTTP/1.1 ");
  AppendInt(b, status);
  b.push_back(' ');
  b.append(Reason(status));
  b.append("\r\n");
  if (!content_type.empty()) {
    b.append("content-type: ");
    b.append(content_type);
    b.append("\r\n");
  }
  for (const auto& [k, v] : extra) {
    b.append(k);
    b.append(": ");
    b.append(v);
    b.append("\r\n");
  }
  if (!keep_alive_) b.append("connection: close\r\n");
}

void Session::StartChunked(int status, std::string_view content_type,
                           const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string& b = Buf();
  AppendHead(b, status, content_type, extra);
  b.append("transfer-encoding: chunked\r\n\r\n");
  chunked_ = true;
}

void Session::EndChunked() {
  Buf().append("0\r\n\r\n");
  chunked_ = false;
  response_done_ = true;
  Flush();
}

void Session::Flush() {
  if (writing_ || paused_ || closed_ || pending_.empty()) return;
  writing_ = true;
  writing_buf_.swap(pending_);
  pending_.clear();
  writing_at_.swap(pending_at_);
  pending_at_.clear();
  writing_first_ = pending_first_;
  pending_first_ = false;
  asio::async_write(socket_, asio::buffer(writing_buf_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->OnWrite(ec);
                    });
}

void Session::OnWrite(beast::error_code ec) {
  writing_ = false;
  writing_buf_.clear();
  if (!ec && !writing_at_.empty()) {
    const int64_t now = NowNs();
    engine_.ObserveWrites(now, writing_at_, writing_first_ ? read_ns_ : -1,
                          writing_first_ ? -1 : last_token_write_ns_);
    last_token_write_ns_ = now;
  }
  writing_at_.clear();
  writing_first_ = false;
  if (writing_buf_.capacity() > 2 * kMaxUnwrittenBytes) writing_buf_.shrink_to_fit();
  if (ec) {
    Abort();
    return;
  }
  if (!pending_.empty()) {
    Flush();
    if (stalled_) UpdateBackpressure();
    return;
  }
  if (stalled_) UpdateBackpressure();
  if (split_barrier_) {
    split_barrier_ = false;
    paused_ = true;
    EnsureTimer();
    timer_->expires_after(std::chrono::milliseconds(2));
    timer_->async_wait([self = shared_from_this()](beast::error_code tec) {
      if (tec || self->closed_) return;
      self->paused_ = false;
      self->pending_.append(self->held_);
      self->held_.clear();
      self->Flush();
      self->AfterDrain();
    });
    return;
  }
  AfterDrain();
}

void Session::AfterDrain() {
  if (writing_ || paused_ || !pending_.empty()) return;
  if (reset_pending_) {
    reset_pending_ = false;
    ResetNow();
    return;
  }
  if (stall_pending_) {
    stall_pending_ = false;
    StartStall();
    return;
  }
  if (response_done_) {
    response_done_ = false;
    if (close_after_response_ || !keep_alive_) {
      beast::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      Close();
    } else {
      DoRead();
    }
  }
}

void Session::EnsureTimer() {
  if (!timer_) timer_ = std::make_unique<asio::steady_timer>(ctx_);
}

void Session::ResetNow() {
  beast::error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
  closed_ = true;
  if (timer_) timer_->cancel();
}

void Session::StartStall() {
  EnsureTimer();
  timer_->expires_after(std::chrono::nanoseconds(kStallLimitNs));
  timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Close();
  });
  if (watching_) return;  // the watch read already notices the client closing
  stall_buf_.resize(4096);
  DoStallRead();
}

void Session::DoStallRead() {
  socket_.async_read_some(asio::buffer(stall_buf_),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) {
                              self->Close();
                            } else {
                              self->DoStallRead();
                            }
                          });
}

void Session::Abort() {
  if (gen_) {
    engine_.Cancel(gen_->seq, Outcome::kCancelled, &ctx_);
    gen_.reset();
  }
  Close();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  stalled_ = false;
  beast::error_code ignored;
  socket_.close(ignored);
  if (timer_) timer_->cancel();
  // Free the output now; the session object lives on until its handlers return.
  std::string().swap(pending_);
  std::string().swap(held_);
  std::string().swap(stall_buf_);
  if (!writing_) std::string().swap(writing_buf_);
}

void Session::SendError(Api api, const ErrorInfo& e, bool allow_inband) {
  std::string b;
  switch (engine_.kind()) {
    case EngineKind::kOllama:
      if (api == Api::kOllamaOaiChat || api == Api::kOllamaOaiCompletion) {
        ollama::AppendOaiError(b, e.message, e.type);
        WriteSimple(e.status, "application/json", b, {});
      } else {
        ollama::AppendError(b, e.message, false);
        WriteSimple(e.status, "application/json; charset=utf-8", b, {});
      }
      break;
    case EngineKind::kVllm:
      vllm::AppendError(b, e.message, e.type, e.status);
      WriteSimple(e.status, "application/json", b, {});
      break;
    case EngineKind::kTgi:
      if (allow_inband && (e.type == "validation" || e.type == "overloaded")) {
        // /generate_stream reports validation and overload in-band with HTTP 200.
        StartChunked(200, "text/event-stream",
                     {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}});
        const size_t pos = BeginEvent();
        tgi::AppendStreamError(Buf(), e.message, e.type);
        EndEvent(pos);
        EndChunked();
      } else {
        tgi::AppendError(b, e.message, e.type);
        WriteSimple(e.status, "application/json", b, {});
      }
      break;
  }
}

// ----------------------------------------------------------------- Session: generation
void Session::StartGeneration(Api api, const HttpRequest& req, bool stream_route) {
  // The request arrived when its first bytes reached the socket (kernel timestamp), which is
  // earlier than now when this thread was busy: the model and the observed TTFT count from
  // there, and the difference is reported as read lag.
  const int64_t now = NowNs();
  const int64_t arrival = arrival_ns_ >= 0 && arrival_ns_ <= now ? arrival_ns_ : now;
  engine_.ObserveReadLag(now - arrival);
  FaultSpec fault;
  const uint64_t request_no = engine_.NextRequestNo(&fault);
  auto fh = req.find("x-llmbench-fault");
  if (fh != req.end()) {
    auto parsed = ParseFaultHeader(std::string_view(fh->value().data(), fh->value().size()));
    if (!parsed.ok()) {
      engine_.CountError("validation");
      WriteSimple(400, "text/plain; charset=utf-8",
                  Cat("x-llmbench-fault: ", parsed.status().message()), {});
      return;
    }
    fault = *parsed;
  }
  ParseResult parsed = ParseGenRequest(api, req.body(), engine_.Limits(), stream_route);
  if (auto* err = std::get_if<RequestError>(&parsed)) {
    engine_.CountError(err->type);
    if (err->plain_text) {
      WriteSimple(err->status, "text/plain; charset=utf-8", err->message, {});
      return;
    }
    const bool inband = api == Api::kTgiGenerate && stream_route;
    SendError(api, ErrorInfo{err->status, err->message, err->type}, inband);
    return;
  }
  GenRequest& g = std::get<GenRequest>(parsed);
  if (const int status = FaultStatus(fault.kind); status != 0) {
    engine_.CountFault(fault.kind);
    engine_.CountError(FaultError(engine_.kind(), engine_.cfg().model, status).type);
    const bool inband = IsTgiNative(api) && g.stream;
    SendError(api, FaultError(engine_.kind(), engine_.cfg().model, status), inband);
    return;
  }
  if (g.load_only) {
    // Ollama: an empty prompt only loads the model.
    std::string b;
    const int64_t now_unix = engine_.ToUnixNs(NowNs());
    ollama::FinalMetrics none;
    if (api == Api::kOllamaGenerate) {
      ollama::AppendGenerateFinal(b, g.model, now_unix, "", "load", none, g.stream);
    } else {
      ollama::AppendChatFinal(b, g.model, now_unix, "", "load", none, g.stream);
    }
    WriteSimple(200, g.stream ? "application/x-ndjson" : "application/json; charset=utf-8", b, {});
    return;
  }
  Generation& gen = gen_.emplace();
  gen.req = std::move(g);
  gen.request_no = request_no;
  gen.key = RequestKey(engine_.cfg().latency.seed, request_no);
  gen.arrival_ns = arrival;
  gen.fault = fault;
  read_ns_ = arrival;
  last_token_write_ns_ = -1;
  if (fault.kind != FaultKind::kNone) {
    gen.fault_at = std::min(fault.after, gen.req.output_tokens - 1);
    if (fault.kind == FaultKind::kSplitUtf8 && gen.req.stream) {
      // The split token must not be the last one (that event also ends the response).
      gen.fault_at = std::min(fault.after, gen.req.output_tokens - 2);
    }
    engine_.CountFault(fault.kind);
  }
  if (api == Api::kOllamaChat || api == Api::kOllamaOaiChat || api == Api::kVllmChat ||
      api == Api::kTgiChat) {
    // What a multi-turn client sends back must be this reply (sim/chat_history.h).
    engine_.chat_history().ObserveRequest(req.body());
    if (fault.kind == FaultKind::kNone) {
      std::string reply;
      const int tokens = gen.req.eos ? gen.req.output_tokens - 1 : gen.req.output_tokens;
      for (int i = 0; i < tokens; ++i) reply.append(VocabToken(gen.key, i));
      engine_.chat_history().AddReply(reply);
    }
  }
  AssignResponseId(gen, engine_.kind(), api, engine_.ToUnixNs(arrival));
  if (gen.req.stream) {
    switch (api) {
      case Api::kOllamaGenerate:
      case Api::kOllamaChat: StartChunked(200, "application/x-ndjson", {}); break;
      case Api::kVllmChat:
      case Api::kVllmCompletion: StartChunked(200, "text/event-stream; charset=utf-8", {}); break;
      case Api::kTgiGenerate:
      case Api::kTgiCompat:
      case Api::kTgiChat:
      case Api::kTgiCompletion:
        StartChunked(200, "text/event-stream",
                     {{"cache-control", "no-cache"},
                      {"x-accel-buffering", "no"},
                      {"x-compute-type", "gpu+optimized"},
                      {"x-compute-characters", std::to_string(gen.req.prompt_chars)}});
        break;
      default: StartChunked(200, "text/event-stream", {}); break;
    }
    Flush();
  }
  gen.seq = engine_.Submit(shared_from_this(), &ctx_, gen.req, arrival);
  StartWatch();
}

void Session::AppendMalformed() {
  const size_t pos = BeginEvent();
  AppendMalformedEvent(Buf(), *gen_);
  EndEvent(pos);
}

bool Session::FireFault(int index) {
  Generation& gen = *gen_;
  switch (gen.fault.kind) {
    case FaultKind::kStreamError: {
      engine_.Cancel(gen.seq, Outcome::kFault, &ctx_);
      if (!gen.req.stream) {
        SendError(gen.req.api, FaultError(engine_.kind(), engine_.cfg().model, 500), false);
        gen_.reset();
        return true;
      }
      const size_t pos = BeginEvent();
      AppendStreamFaultEvent(Buf(), gen);
      EndEvent(pos);
      close_after_response_ = true;
      gen_.reset();
      EndChunked();
      return true;
    }
    case FaultKind::kReset:
      engine_.Cancel(gen.seq, Outcome::kFault, &ctx_);
      gen_.reset();
      reset_pending_ = true;
      Flush();
      AfterDrain();
      return true;
    case FaultKind::kStall:
      engine_.Cancel(gen.seq, Outcome::kFault, &ctx_);
      gen_.reset();
      stall_pending_ = true;
      Flush();
      AfterDrain();
      return true;
    case FaultKind::kMalformed:
      if (gen.req.stream) AppendMalformed();
      return false;
    default: (void)index; return false;
  }
}

void Session::RenderEvent(const SchedulerEvent& ev) {
  if (!gen_ || gen_->seq != ev.seq || closed_) return;
  Generation& gen = *gen_;
  const int index = ev.token_index;
  if (index == 0) {
    gen.admitted_ns = ev.admitted_ns;
    gen.first_ns = ev.at_ns;
    if (engine_.kind() == EngineKind::kOllama) {
      gen.created = engine_.ToUnixNs(ev.at_ns) / 1'000'000'000;
    }
  }
  if (index == gen.fault_at && FireFault(index)) return;
  // The token's text.
  const bool eos_token = ev.last && gen.req.eos;
  std::string_view text = eos_token ? std::string_view() : VocabToken(gen.key, index);
  std::string special;
  bool split = false;
  if (index == gen.fault_at && !eos_token) {
    if (gen.fault.kind == FaultKind::kSplitUtf8) {
      text = " naïve";
      split = gen.req.stream;
    } else if (gen.fault.kind == FaultKind::kHugeLine) {
      special.assign(kHugeTokenBytes, 'x');
      special[0] = ' ';
      text = special;
    }
  }
  // The whole text is only needed for a non-stream body or TGI's final generated_text.
  if (!gen.req.stream || IsTgiNative(gen.req.api)) gen.text.append(text);
  if (!gen.req.stream) {
    if (ev.last) FinishNonStream(ev.at_ns, eos_token);
    return;
  }
  pending_at_.push_back(ev.at_ns);
  if (index == 0) pending_first_ = true;
  if (split && !ev.last) {
    // Render the event unframed, then split it inside "ï" (0xC3 0xAF) across two writes.
    std::string& b = Buf();
    const size_t before = b.size();
    const bool was_chunked = chunked_;
    chunked_ = false;
    RenderToken(index, text, false, ev.at_ns);
    chunked_ = was_chunked;
    const std::string rendered = b.substr(before);
    b.resize(before);
    const size_t cut = rendered.find('\xC3');
    auto frame = [&](std::string& dst, std::string_view data) {
      if (was_chunked) {
        char hdr[20];
        const int n = std::snprintf(hdr, sizeof(hdr), "%zx\r\n", data.size());
        dst.append(hdr, static_cast<size_t>(n));
      }
      dst.append(data);
      if (was_chunked) dst.append("\r\n");
    };
    frame(Buf(), std::string_view(rendered).substr(0, cut + 1));
    split_barrier_ = true;  // later output goes to held_ until the pause is over
    frame(held_, std::string_view(rendered).substr(cut + 1));
    Flush();
    return;
  }
  RenderToken(index, text, ev.last, ev.at_ns);
  Flush();
}

void Session::RenderToken(int index, std::string_view text, bool last, int64_t at_ns) {
  AppendStreamToken(Buf(), chunked_, *gen_, index, text, last, at_ns, engine_.ToUnixNs(at_ns));
  if (last) {
    gen_.reset();
    EndChunked();
  }
}

void Session::FinishNonStream(int64_t at_ns, bool last_was_eos) {
  Generation& gen = *gen_;
  const NonStreamResponse response = RenderNonStream(gen, at_ns, engine_.ToUnixNs(at_ns));
  const std::string& b = response.body;
  const std::string& content_type = response.content_type;
  const auto& headers = response.headers;
  (void)last_was_eos;
  const bool split = gen.fault.kind == FaultKind::kSplitUtf8 && gen.fault_at >= 0;
  gen_.reset();
  if (split) {
    // Non-stream split_utf8: the body's bytes are split inside "ï" across two writes.
    std::string& buf = Buf();
    AppendHead(buf, 200, content_type, headers);
    buf.append("content-length: ");
    AppendInt(buf, static_cast<int64_t>(b.size()));
    buf.append("\r\n\r\n");
    const size_t cut = b.find('\xC3');
    buf.append(b, 0, cut + 1);
    split_barrier_ = true;
    held_.append(b, cut + 1, std::string::npos);
    response_done_ = true;
    Flush();
    return;
  }
  WriteSimple(200, content_type, b, headers);
}

}  // namespace llmbench::sim
