#include "sim/sim_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <memory>
#include <thread>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "common/str_cat.h"
#include "sim/http_session.h"
#include "sim/sim_engine.h"

namespace llmbench::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// ---------------------------------------------------------------------------- SimServer
struct SimServer::State {
  SimConfig config;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<Engine>> engines;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<BoundEndpoint> endpoints;
  std::atomic<size_t> next_ctx{0};
  std::unique_ptr<asio::signal_set> signals;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;

  void Accept(size_t i) {
    tcp::acceptor& acc = *acceptors[i];
    const size_t target = next_ctx.fetch_add(1) % contexts.size();
    asio::io_context& ctx = *contexts[target];
    acc.async_accept(ctx, [this, i, &ctx](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        // Kernel receive timestamps: a request's arrival is when its bytes reached the
        // socket, not when this (possibly busy) thread got to read them (Session::DoRead).
        const int on = 1;
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
        auto s = std::make_shared<Session>(std::move(socket), *engines[i], ctx);
        asio::dispatch(ctx, [s] { s->Start(); });
      }
      Accept(i);
    });
  }
};

SimServer::SimServer(SimConfig config) : state_(std::make_unique<State>()) {
  state_->config = std::move(config);
  if (state_->config.listens.empty()) state_->config.listens.push_back(ListenSpec{});
  const int threads = std::max(state_->config.threads, 1);
  for (int i = 0; i < threads; ++i) {
    state_->contexts.push_back(std::make_unique<asio::io_context>(1));
  }
}

SimServer::~SimServer() { Stop(); }

absl::Status SimServer::Start() {
  State& s = *state_;
  for (size_t i = 0; i < s.config.listens.size(); ++i) {
    const ListenSpec& spec = s.config.listens[i];
    asio::io_context& home = *s.contexts[i % s.contexts.size()];
    s.engines.push_back(std::make_unique<Engine>(spec.kind, s.config, home));
    beast::error_code ec;
    const auto addr = asio::ip::make_address(spec.host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          Cat("--listen ", EngineKindName(spec.kind), "=", spec.host, ":", spec.port,
                       ": bad address: ", ec.message()));
    }
    auto acc = std::make_unique<tcp::acceptor>(*s.contexts[0]);
    const tcp::endpoint ep(addr, spec.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && s.config.reuse_port) {
      // Several simulator processes on one port (the kernel spreads connections over them):
      // how a benchmark gets past one process's file-descriptor limit.
      acc->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    }
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(Cat("cannot listen on ", spec.host, ":", spec.port,
                                                 " for ", EngineKindName(spec.kind), ": ",
                                                 ec.message()));
    }
    const auto local = acc->local_endpoint();
    s.endpoints.push_back(BoundEndpoint{spec.kind, spec.host, local.port()});
    s.acceptors.push_back(std::move(acc));
  }
  for (size_t i = 0; i < s.acceptors.size(); ++i) s.Accept(i);
  return absl::OkStatus();
}

const std::vector<BoundEndpoint>& SimServer::Endpoints() const { return state_->endpoints; }

void SimServer::HandleSignals() {
  State& s = *state_;
  if (s.signals) return;
  // asio installs the handlers now and queues a signal that arrives before Run() serves it.
  s.signals = std::make_unique<asio::signal_set>(*s.contexts[0], SIGINT, SIGTERM);
  s.signals->async_wait([this](beast::error_code ec, int) {
    if (!ec) Stop();
  });
}

void SimServer::Run(bool handle_signals) {
  State& s = *state_;
  if (handle_signals) HandleSignals();
  for (auto& ctx : s.contexts) s.guards.push_back(asio::make_work_guard(*ctx));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < s.contexts.size(); ++i) {
    threads.emplace_back([ctx = s.contexts[i].get()] { ctx->run(); });
  }
  s.contexts[0]->run();
  for (auto& t : threads) t.join();
}

void SimServer::Stop() {
  if (!state_) return;
  for (auto& ctx : state_->contexts) ctx->stop();
}

std::string ListeningLine(const BoundEndpoint& ep) {
  const bool v6 = ep.host.find(':') != std::string::npos;
  return Cat("listening ", EngineKindName(ep.kind), " http://", v6 ? "[" : "", ep.host,
                      v6 ? "]" : "", ":", ep.port);
}

}  // namespace llmbench::sim
