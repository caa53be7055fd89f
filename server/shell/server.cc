#include "server/shell/server.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "common/cidr.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/socket.h"
#include "server/shell/handover.h"

namespace sp {

int online_cpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

Server::Server(const ServerOptions& options, const WorkerProgramFactory& program, std::vector<Fd> inherited)
    : options_(options), admission_(options.max_connections, options.source_rules), inherited_(std::move(inherited)) {
  // Bind everything first, so a busy port fails before any thread starts.
  std::vector<Fd> first;  // one socket per address: the acceptor's, or worker 0's with --reuseport
  for (const HostPort& where : options_.listen) {
    for (const SocketAddress& addr : resolve(where, true)) {
      first.push_back(listen_on(addr));
      listeners_.push_back(std::make_unique<ListenAddress>());
      listeners_.back()->address = local_address(first.back().get());
    }
  }
  auto listening = [&](size_t worker) {
    std::vector<Acceptor::Listening> out;
    for (size_t i = 0; i < listeners_.size(); ++i) {
      // Later workers bind the address worker 0 got (its real port, if 0 was asked for).
      Fd fd = worker == 0 ? std::move(first[i]) : listen_on(listeners_[i]->address);
      listening_fds_.push_back(fd.get());
      out.push_back({std::move(fd), i, &listeners_[i]->counters});
    }
    return out;
  };
  for (int i = 0; i < options_.workers; ++i) {
    WorkerOptions wo = options_.worker;
    if (!options_.pin_cpus.empty()) wo.pin_cpu = options_.pin_cpus[static_cast<size_t>(i) % options_.pin_cpus.size()];
    if (options_.reuseport)
      workers_.push_back(std::make_unique<Worker>(i, wo, program, listening(static_cast<size_t>(i)), &admission_));
    else
      workers_.push_back(std::make_unique<Worker>(i, wo, program, std::vector<Acceptor::Listening>{}, &admission_));
  }
  for (const Fd& left : inherited_)
    log::warn("a listening socket handed over on ", local_address(left.get()).to_string(),
              " is not among this proxy's -s addresses: closed, with the connections queued on it");
  inherited_.clear();
  if (!options_.reuseport) {
    acceptor_sockets_ = listening(0);
    acceptor_thread_ = std::make_unique<LoopThread>([](EventLoop&) { pthread_setname_np(pthread_self(), "acceptor"); });
  }
}

Fd Server::listen_on(const SocketAddress& address) {
  for (auto it = inherited_.begin(); it != inherited_.end(); ++it) {
    SocketAddress bound = local_address(it->get());
    // An address asked with port 0 matches the port the old proxy got for it.
    bool same = bound.family() == address.family() && address_bytes(bound) == address_bytes(address) &&
                (address.port() == 0 || bound.port() == address.port());
    if (!same) continue;
    Fd fd = std::move(*it);
    inherited_.erase(it);
    return fd;
  }
  return listen_tcp(address, 4096, options_.reuseport);
}

void Server::start_accepting() {
  open_accept_points_ = options_.reuseport ? static_cast<int>(workers_.size()) : 1;
  for (auto& w : workers_) w->start_accepting();
  if (!acceptor_thread_) return;
  acceptor_thread_->loop().post([this] {
    if (acceptor_ || acceptor_sockets_.empty()) return;
    acceptor_ = std::make_unique<Acceptor>(acceptor_thread_->loop(), std::move(acceptor_sockets_),
                                           [this](Fd& client, size_t listener) { return dispatch(client, listener); });
  });
}

Server::~Server() {
  if (acceptor_thread_) acceptor_thread_->stop_and_join();  // no new hand-offs from here on
  acceptor_.reset();
  workers_.clear();
}

void Server::stop_accepting() {
  auto closed = [this] { open_accept_points_.fetch_sub(1, std::memory_order_release); };
  if (acceptor_thread_)
    acceptor_thread_->loop().post([this, closed] {
      // Posted: runs after the batch of accepts in progress has been handed to the workers.
      if (acceptor_) acceptor_->close_listeners();
      acceptor_sockets_.clear();
      closed();
    });
  for (auto& w : workers_) w->stop_accepting(options_.reuseport ? std::function<void()>(closed) : nullptr);
}

void Server::abort_sessions() {
  for (auto& w : workers_) w->abort_all();
}

uint64_t Server::active() const {
  uint64_t n = 0;
  // load() counts what was handed over and not started yet: a drain that looked only at started
  // sessions could end while a connection accepted just before the listeners closed was still on
  // its way to a worker, and drop it. (--reuseport workers start their sessions at once.)
  for (auto& w : workers_) n += std::max(w->active(), w->load());
  return n;
}

std::vector<SocketAddress> Server::listen_addresses() const {
  std::vector<SocketAddress> out;
  for (const auto& l : listeners_) out.push_back(l->address);
  return out;
}

Admission::Verdict Server::dispatch(Fd& client, size_t listener) {
  // Counted here, before the hand-off: the workers' own counts lag behind what is still queued.
  Admission::Ticket ticket;
  Admission::Verdict verdict = admission_.admit(client.get(), &ticket);
  if (verdict != Admission::Verdict::kAdmitted) return verdict;  // the acceptor counts, logs and closes it
  Worker* target = nullptr;
  if (options_.balance == Balance::kLeastConnections) {
    for (auto& w : workers_)
      if (!target || w->load() < target->load()) target = w.get();
  } else {
    target = workers_[next_worker_++ % workers_.size()].get();
  }
  target->hand_off(std::move(client), listener, ticket);
  return verdict;
}

int serve_until_signalled(Server& server, int64_t grace_ns, const std::function<void()>& on_hangup,
                          const Restarts& restarts) {
  EventLoop loop;
  int64_t deadline = 0;
  std::function<void()> check_drained = [&] {
    if ((server.active() == 0 && !server.accepting()) || now_ns() >= deadline) {
      if (server.active()) log::warn("grace period over: closing ", server.active(), " live sessions");
      server.abort_sessions();
      loop.stop();
      return;
    }
    loop.run_after(50 * kNsPerMs, check_drained);
  };
  auto drain = [&](const std::string& why) {
    log::info(why, ": draining ", server.active(), " sessions for up to ", grace_ns / 1e9, " s");
    server.stop_accepting();
    deadline = now_ns() + grace_ns;
    check_drained();
  };
  std::unique_ptr<HandoverPoint> handover;
  SignalWatcher signals(loop, {SIGINT, SIGTERM, SIGHUP}, [&](int sig) {
    if (sig == SIGHUP) {
      log::info("SIGHUP: reopening the stats log");
      if (on_hangup) on_hangup();
      return;
    }
    if (deadline) {  // a second signal: no more patience
      deadline = now_ns();
      return;
    }
    handover.reset();  // a proxy that is going away hands nothing over
    drain("signal " + std::to_string(sig));
  });
  // Only now: the loop and the signalfd already hold their descriptors.
  server.start_accepting();
  if (restarts.takeover) confirm_takeover(*restarts.takeover);  // both accept until the old one has stopped
  if (restarts.on_serving) restarts.on_serving();
  if (!restarts.handover_path.empty())
    handover = std::make_unique<HandoverPoint>(
        loop, restarts.handover_path, [&] { return server.listening_fds(); },
        [&](int pid) {
          if (restarts.on_handed_over) restarts.on_handed_over();
          if (!deadline) drain("handed the listeners over to pid " + std::to_string(pid));
        });
  loop.run();
  return 0;
}

}  // namespace sp
