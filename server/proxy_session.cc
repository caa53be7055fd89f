#include "server/proxy_session.h"

#include <sys/epoll.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"
#include "server/turn_budget.h"

namespace sp {

ProxySession::ProxySession(WorkerEnv& env, Fd client, Remote& remote, const ProxySessionOptions& options)
    : env_(env), remote_(remote), options_(options), client_(std::move(client)) {}

ProxySession::~ProxySession() {
  if (timer_) env_.loop.cancel(timer_);
}

void ProxySession::start() {
  env_.counters.connections_total.add();
  set_nodelay(client_.get());
  env_.loop.add(client_.get(), EventLoop::kEdgeAll, &client_side_);
  addresses_ = remote_.current();
  timer_ = env_.loop.run_after(options_.connect_timeout_ns, [this] {
    timer_ = 0;
    connect_failed(ETIMEDOUT, true);
  });
  connect_next();
}

void ProxySession::connect_next() {
  while (address_index_ < addresses_->size()) {
    const SocketAddress& addr = (*addresses_)[address_index_++];
    int err = 0;
    remote_fd_ = connect_nonblocking(addr, &err);
    if (remote_fd_) {
      // Also reached from an event handler (the next address after a failed one), where nothing
      // above would catch: a failed registration ends this session only.
      try {
        env_.loop.add(remote_fd_.get(), EventLoop::kEdgeAll, &remote_side_);
      } catch (const std::exception& e) {
        session_failed(env_, this, e);
      }
      return;
    }
    last_connect_error_ = err;
  }
  // No address at all: the remote's name has not resolved yet (Remote retries in the background).
  connect_failed(addresses_->empty() ? EDESTADDRREQ : last_connect_error_, false);
}

void ProxySession::on_side_events(bool client, uint32_t events) {
  if (state_ == State::kClosed || state_ == State::kStopping || relay_) return;  // a relay's fds left epoll
  if (state_ == State::kConnecting) {
    if (client) pending_client_events_ |= events;
    else on_connect_result(events);
    return;
  }
  if (sockmap_) {
    sockmap_->on_events(client, events);
    return;
  }
  if (client) {
    to_remote_->source_events(events);
    if (events & EPOLLOUT) to_client_->destination_writable();
  } else {
    to_client_->source_events(events);
    if (events & EPOLLOUT) to_remote_->destination_writable();
  }
  // Not pump() here: a session whose edges keep coming (a bulk stream) gets one turn per round
  // like every other, not one per event. A session already queued for more work keeps its place;
  // one that was not (its last turn finished what it had: a ping-pong) joins the fresh list, so its
  // message waits for no bulk turn queued before it.
  env_.loop.defer_fresh(&client_side_);
}

void ProxySession::on_connect_result(uint32_t events) {
  std::optional<int> err = connect_outcome(remote_fd_.get(), events);
  if (!err) return;
  if (*err == 0) {
    connected();
    return;
  }
  last_connect_error_ = *err;
  if (address_index_ > 0)
    log::debug(describe_error("connect", (*addresses_)[address_index_ - 1], last_connect_error_));
  env_.loop.remove(remote_fd_.get());
  remote_fd_.reset();
  connect_next();  // the next address, if the name had several
}

void ProxySession::connected() {
  if (timer_) env_.loop.cancel(timer_);
  timer_ = 0;
  set_nodelay(remote_fd_.get());
  state_ = State::kOpen;
  if (options_.mode == PumpMode::kUring && env_.uring) {
    // The ring watches both sockets from here on: epoll would only wake us for nothing.
    env_.loop.remove(client_.get());
    env_.loop.remove(remote_fd_.get());
    relay_ = std::make_unique<UringRelay>(*env_.uring, env_.loop, env_.pumps.buffers, client_.get(), remote_fd_.get(),
                                          env_.counters, static_cast<UringRelay::Owner&>(*this));
    if (options_.idle_timeout_ns > 0) {
      last_activity_ns_ = env_.loop.now();
      arm_idle_timer();
    }
    relay_->start();
    return;
  }
  if (options_.mode == PumpMode::kSockmap && env_.sockmap && start_sockmap()) return;
  if (state_ != State::kOpen) return;  // the kernel took the session half-way: reset
  PumpMode mode = options_.mode == PumpMode::kUring     ? PumpMode::kReadWrite
                  : options_.mode == PumpMode::kSockmap ? PumpMode::kSplice
                                                        : options_.mode;
  to_remote_ = std::make_unique<Pump>(client_.get(), remote_fd_.get(), mode, env_.pumps, env_.counters.bytes_in);
  to_client_ = std::make_unique<Pump>(remote_fd_.get(), client_.get(), mode, env_.pumps, env_.counters.bytes_out);
  // The remote's first edge carried EPOLLOUT, possibly EPOLLIN too (a server that speaks first):
  // look at both, and replay what the client did while we were connecting.
  to_client_->source_events(EPOLLIN);
  to_remote_->source_events(pending_client_events_ | EPOLLIN);
  if (options_.idle_timeout_ns > 0) arm_idle_timer();
  pump();
}

bool ProxySession::start_sockmap() {
  sockmap_ = std::make_unique<SockmapRelay>(*env_.sockmap, env_.loop, env_.counters, client_.get(), &client_side_,
                                            remote_fd_.get(), &remote_side_, static_cast<SockmapRelay::Owner&>(*this));
  bool partial = false;
  if (int err = sockmap_->start(&partial)) {
    // EOPNOTSUPP: a socket left ESTABLISHED (its peer closed) before the session was relayed, a
    // race of every busy proxy; a full map (E2BIG) or the kernel's memory (ENOMEM) is news.
    const char* what = partial ? "; resetting it" : "; relaying it with splice";
    if (err == EOPNOTSUPP) {
      log::debug("sockmap: a session's socket is no longer established", what);
    } else {
      static log::RateLimit limit;  // shared by the workers: one line a second in all
      log::warn_limited(limit, "sockmap: the kernel refused a session's sockets: ", log::errno_text(err), what);
    }
    env_.counters.sockmap_fallbacks.add();
    sockmap_.reset();
    if (partial) close(true);
    return false;
  }
  env_.counters.sockmap_sessions.add();
  if (options_.idle_timeout_ns > 0) {
    last_activity_ns_ = env_.loop.now();
    arm_idle_timer();
  }
  // What the client did while we were connecting (its FIN, say) happened before the edge we wait for.
  if (pending_client_events_ & (EPOLLRDHUP | EPOLLERR)) sockmap_->on_events(true, pending_client_events_);
  return true;
}

void ProxySession::connect_failed(int err, bool timed_out) {
  if (state_ != State::kConnecting) return;
  (timed_out ? env_.counters.connect_timeout : env_.counters.connect_failed).add();
  std::string where = remote_.where().to_string();
  static log::RateLimit limit;  // shared by the workers: one line a second in all
  log::warn_limited(limit, "connect ", where, ": ", log::errno_text(err), "; closing the client");
  remote_.refresh();
  close(true);
}

void ProxySession::pump() {
  if (state_ != State::kOpen) return;
  if (options_.idle_timeout_ns > 0) last_activity_ns_ = env_.loop.now();
  size_t budget = turn_budget(env_.loop.ready_count(), options_.budget);
  Pump::Status up = to_remote_->run(budget);
  Pump::Status down = to_client_->run(budget);
  if (up == Pump::Status::kFailed || down == Pump::Status::kFailed) {
    env_.counters.resets.add();
    log::debug("session reset: ", log::errno_text(up == Pump::Status::kFailed ? to_remote_->error() : to_client_->error()));
    close(true);
    return;
  }
  if (to_remote_->finished() && to_client_->finished()) {
    close(false);
    return;
  }
  if (up == Pump::Status::kMoreWork || down == Pump::Status::kMoreWork) env_.loop.defer(&client_side_);
}

void ProxySession::arm_idle_timer() {
  // One timer per idle period, re-armed lazily: activity only stamps last_activity_ns_.
  int64_t due = last_activity_ns_ + options_.idle_timeout_ns - env_.loop.now();
  if (last_activity_ns_ == 0) due = options_.idle_timeout_ns;
  timer_ = env_.loop.run_after(due, [this] {
    timer_ = 0;
    if (sockmap_) last_activity_ns_ = env_.loop.now() - sockmap_->idle_ns();  // the kernel saw the traffic
    if (env_.loop.now() - last_activity_ns_ >= options_.idle_timeout_ns && last_activity_ns_ != 0) {
      env_.counters.idle_timeouts.add();
      close(false);
    } else {
      arm_idle_timer();
    }
  });
}

void ProxySession::abort() { close(true); }

void ProxySession::relay_activity() {
  if (options_.idle_timeout_ns > 0) last_activity_ns_ = env_.loop.now();
}

void ProxySession::relay_finished(int err) {
  if (err) log::debug("session reset: ", log::errno_text(err));
  close(err != 0);
}

void ProxySession::sockmap_finished(int err) {
  if (err) {
    env_.counters.resets.add();
    log::debug("session reset: ", log::errno_text(err));
  }
  close(err != 0);
}

void ProxySession::relay_stopped() {
  if (state_ == State::kStopping) close_sockets(reset_on_close_);
}

void ProxySession::close(bool reset) {
  if (state_ == State::kClosed || state_ == State::kStopping) return;
  if (timer_) env_.loop.cancel(timer_);
  timer_ = 0;
  if (relay_) {
    // Requests in flight point at the relay: the sockets close once the ring is done with them.
    state_ = State::kStopping;
    reset_on_close_ = reset;
    relay_->stop();
    return;
  }
  close_sockets(reset);
}

void ProxySession::close_sockets(bool reset) {
  state_ = State::kClosed;
  // A reset on one side is passed on as a reset on the other: the peer learns the stream broke.
  for (Fd* fd : {&client_, &remote_fd_}) {
    if (!*fd) continue;
    if (!relay_) env_.loop.remove(fd->get());
    if (reset) set_reset_on_close(fd->get());
  }
  to_remote_.reset();  // pumps give their pipes and buffers back before the sockets close
  to_client_.reset();
  client_.reset();
  remote_fd_.reset();
  sockmap_.reset();  // after the sockets: closing them took them out of the kernel's socket maps
  env_.counters.connections_closed.add();
  env_.finished(this);
}

}  // namespace sp
