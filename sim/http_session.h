// Session: one HTTP/1.1 connection of the simulator. It reads requests (with the kernel
// receive timestamp of their first bytes), hands them to RouteRequest (sim/routes.h), starts
// generations on its Engine and writes their token events as they come, rendered by
// sim/token_render.h, with the faults of sim/faults.h. It keeps one write in flight and
// coalesces the events produced meanwhile into the next write; while a generation runs a
// pending read notices a client that goes away. Backpressure, pipelining and close rules: see
// sim/sim_server.h.
//
// Thread-safety: not thread-safe; every method runs on the session's own io_context thread
// (Engine posts OnToken there). Lifetime: shared_ptr, held by its pending handlers and by the
// engine while a sequence is live; Close() frees the buffers at once.
#ifndef LLMBENCH_SIM_HTTP_SESSION_H_
#define LLMBENCH_SIM_HTTP_SESSION_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "sim/batch_scheduler.h"
#include "sim/faults.h"
#include "sim/gen_request.h"
#include "sim/sim_config.h"
#include "sim/sim_engine.h"
#include "sim/token_render.h"

namespace llmbench::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using HttpRequest = http::request<http::string_body>;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Engine& engine, asio::io_context& ctx)
      : socket_(std::move(socket)), engine_(engine), ctx_(ctx) {}

  void Start() { DoRead(); }
  void OnToken(const SchedulerEvent& ev);

  // For RouteRequest (sim/routes.h), the request's answer:
  // Writes a complete non-chunked response.
  void WriteSimple(int status, std::string_view content_type, std::string_view body,
                   const std::vector<std::pair<std::string, std::string>>& extra);
  // Starts a generation on the engine (or answers the request's error or fault).
  void StartGeneration(Api api, const HttpRequest& req, bool stream_route);

 private:
  // ---- output buffer helpers
  std::string& Buf() { return (split_barrier_ || paused_) ? held_ : pending_; }
  size_t BeginEvent();
  void EndEvent(size_t pos);

  // Output not yet handed to the kernel.
  size_t Unwritten() const { return pending_.size() + writing_buf_.size() + held_.size(); }

  // Stalls the sequence while its unwritten output exceeds kMaxUnwrittenBytes; resumes it once
  // the output drained to the cap or below.
  void UpdateBackpressure();

  // While a generation runs nothing else reads the socket, so a pending read notices a client
  // that closed or reset the connection (EOF/error) at once, instead of at the next write.
  // Bytes that arrive meanwhile (a pipelined request) are kept in buffer_ for the next
  // http::async_read, up to kMaxPipelinedBytes; then watching stops until the response ends.
  void StartWatch();
  void OnWatch(beast::error_code ec, size_t /*n*/);

  // One non-blocking recvmsg of up to `max` bytes into buffer_, keeping the kernel receive
  // timestamp of the first bytes of the next request (buffered_arrival_ns_, when buffer_ was
  // empty). Returns the bytes read, 0 at EOF or on an error, -1 when nothing was ready.
  ssize_t RecvStamped(size_t max);

  void DoRead();

  void ParseRequest();

  void OnRead(beast::error_code ec);

  void SendError(Api api, const ErrorInfo& e, bool allow_inband);

  void AppendHead(std::string& b, int status, std::string_view content_type,
                  const std::vector<std::pair<std::string, std::string>>& extra);

  void StartChunked(int status, std::string_view content_type,
                    const std::vector<std::pair<std::string, std::string>>& extra);

  void EndChunked();

  void Flush();

  void OnWrite(beast::error_code ec);

  // Called when nothing is left to write.
  void AfterDrain();

  void EnsureTimer();

  void ResetNow();

  void StartStall();
  void DoStallRead();

  // The client went away or a write failed.
  void Abort();

  void Close();

  // Ends the generation with a mid-stream fault; returns true if the stream stopped.
  bool FireFault(int index);
  void RenderEvent(const SchedulerEvent& ev);
  void RenderToken(int index, std::string_view text, bool last, int64_t at_ns);
  void FinishNonStream(int64_t at_ns, bool last_was_eos);
  void AppendMalformed();

  tcp::socket socket_;
  Engine& engine_;
  asio::io_context& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string pending_;
  std::string writing_buf_;
  std::string held_;
  std::string stall_buf_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::optional<Generation> gen_;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool split_barrier_ = false;
  bool response_done_ = false;
  bool close_after_response_ = false;
  bool reset_pending_ = false;
  bool stall_pending_ = false;
  bool closed_ = false;
  bool watching_ = false;          // the close-detecting read is pending
  bool read_after_watch_ = false;  // DoRead once the watch read returns
  bool stalled_ = false;           // our sequence is stalled by backpressure
  uint64_t stalled_seq_ = 0;
  // Observed timing (Engine::ObserveWrites): modelled times of the token events in pending_ and
  // in the write in flight, whether they hold the stream's first token, the request's read
  // time and when the stream's previous token write completed.
  std::vector<int64_t> pending_at_;
  std::vector<int64_t> writing_at_;
  bool pending_first_ = false;
  bool writing_first_ = false;
  int64_t read_ns_ = -1;
  int64_t last_token_write_ns_ = -1;
  int64_t arrival_ns_ = -1;  // kernel receive time of the request's first bytes (-1: unknown)
  int64_t buffered_arrival_ns_ = -1;  // of the first bytes now in buffer_
};

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_HTTP_SESSION_H_
