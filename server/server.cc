#include "server/server.h"

#include <signal.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/socket.h"

namespace sp {

int online_cpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

Server::Server(const ServerOptions& options, SessionFactory factory) : options_(options) {
  std::vector<Fd> listeners;
  for (const HostPort& where : options_.listen)
    for (const SocketAddress& addr : resolve(where, true)) listeners.push_back(listen_tcp(addr));
  for (int i = 0; i < options_.workers; ++i) {
    WorkerOptions wo = options_.worker;
    if (!options_.pin_cpus.empty()) wo.pin_cpu = options_.pin_cpus[i % options_.pin_cpus.size()];
    workers_.push_back(std::make_unique<Worker>(i, wo, factory));
  }
  acceptor_ = std::make_unique<Acceptor>(std::move(listeners),
                                         [this](Fd client, size_t listener) { return dispatch(std::move(client), listener); });
}

Server::~Server() {
  acceptor_.reset();  // no new hand-offs once the workers start going away
  workers_.clear();
}

void Server::stop_accepting() { acceptor_->close_listeners(); }

void Server::abort_sessions() {
  for (auto& w : workers_) w->abort_all();
}

uint64_t Server::active() const {
  uint64_t n = 0;
  for (auto& w : workers_) n += w->active();
  return n;
}

std::vector<SocketAddress> Server::listen_addresses() const {
  std::vector<SocketAddress> out;
  for (size_t i = 0; i < acceptor_->listener_count(); ++i) out.push_back(acceptor_->address(i));
  return out;
}

bool Server::dispatch(Fd client, size_t listener) {
  if (options_.max_connections && active() >= options_.max_connections) return false;  // closes it
  Worker* target = nullptr;
  if (options_.balance == Balance::kLeastConnections) {
    for (auto& w : workers_)
      if (!target || w->active() < target->active()) target = w.get();
  } else {
    target = workers_[next_worker_++ % workers_.size()].get();
  }
  target->hand_off(std::move(client), listener);
  return true;
}

int serve_until_signalled(Server& server, int64_t grace_ns, const std::function<void(EventLoop&)>& on_loop) {
  EventLoop loop;
  int64_t deadline = 0;
  std::function<void()> check_drained = [&] {
    if (server.active() == 0 || now_ns() >= deadline) {
      if (server.active()) log::warn("grace period over: closing ", server.active(), " live sessions");
      server.abort_sessions();
      loop.stop();
      return;
    }
    loop.run_after(50 * kNsPerMs, check_drained);
  };
  SignalWatcher signals(loop, {SIGINT, SIGTERM}, [&](int sig) {
    if (deadline) {  // a second signal: no more patience
      deadline = now_ns();
      return;
    }
    log::info("signal ", sig, ": draining ", server.active(), " sessions for up to ", grace_ns / 1e9, " s");
    server.stop_accepting();
    deadline = now_ns() + grace_ns;
    check_drained();
  });
  if (on_loop) on_loop(loop);
  loop.run();
  return 0;
}

}  // namespace sp
