#include "server/proxy/proxy_session.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/clock.h"
#include "common/log.h"
#include "common/proxy_protocol.h"
#include "common/socket.h"

namespace sp {

ProxySession::ProxySession(WorkerEnv& env, DataPathWorker& paths, Fd client, BackendPool& backends,
                           const ProxySessionOptions& options)
    : env_(env), paths_(paths), backends_(backends), options_(options), client_(std::move(client)) {}

ProxySession::~ProxySession() {
  if (timer_) env_.loop.cancel(timer_);
}

void ProxySession::start() {
  env_.counters.connections_total.add();
  started_ns_ = env_.loop.now();
  if (options_.log_sessions) {
    account().client = peer_address(client_.get());
    account().listener = local_address(client_.get());
  }
  set_nodelay(client_.get());
  // A session that connects on the ring lives there from the start: its client socket joins the
  // loop only to read a PROXY header. A client that leaves meanwhile is seen by the relay.
  if (!paths_.sessions_on_ring() || options_.accept_proxy) {
    env_.loop.add(client_.get(), EventLoop::kEdgeAll, &client_side_);
    client_in_loop_ = true;
  }
  if (options_.accept_proxy) {
    state_ = State::kReadingHeader;
    timer_ = env_.loop.run_after(options_.accept_proxy_timeout_ns, [this] {
      timer_ = 0;
      env_.counters.proxy_header_timeouts.add();
      set_end(SessionEnd::kError, "no PROXY header within --accept-proxy-timeout");
      static log::RateLimit limit;  // shared by the workers: one line a second in all
      log::warn_limited(limit, "no PROXY header from ", peer_address(client_.get()).to_string(),
                        " within --accept-proxy-timeout; closing the client");
      close(true);
    });
    read_proxy_header();
    return;
  }
  start_connecting();
}

// The header is peeked at until it is whole, then read exactly: the client's stream behind it
// stays in the socket for the data path, whichever it is.
void ProxySession::read_proxy_header() {
  uint8_t buf[16 + proxy_protocol::kMaxV2Body];
  ssize_t n = ::recv(client_.get(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    if (n == 0) set_end(SessionEnd::kClientEof);
    else set_end(SessionEnd::kClientReset, log::errno_text(errno));
    close(n < 0);  // gone before a header came: a balancer's own check, most often
    return;
  }
  proxy_protocol::Header header = proxy_protocol::parse(buf, static_cast<size_t>(n));
  if (header.status == proxy_protocol::Header::Status::kNeedMore) {
    if (!(pending_client_events_ & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;  // more may come
    header.status = proxy_protocol::Header::Status::kInvalid;
    header.error = "the stream ended inside the header";
  }
  if (header.status == proxy_protocol::Header::Status::kInvalid) {
    env_.counters.proxy_header_invalid.add();
    set_end(SessionEnd::kError, "PROXY header: " + header.error);
    static log::RateLimit limit;  // shared by the workers: one line a second in all
    log::warn_limited(limit, "PROXY header from ", peer_address(client_.get()).to_string(), ": ", header.error,
                      "; closing the client");
    close(true);
    return;
  }
  if (::recv(client_.get(), buf, header.length, MSG_DONTWAIT) != static_cast<ssize_t>(header.length)) {
    set_end(SessionEnd::kError, "reading the PROXY header: " + log::errno_text(errno));
    close(true);  // peeked bytes that cannot be read: the socket failed under us
    return;
  }
  if (header.source) account().carried_client = header.source;
  if (header.destination) account().carried_listener = header.destination;
  if (timer_) env_.loop.cancel(timer_);
  timer_ = 0;
  state_ = State::kConnecting;
  pending_client_events_ |= EPOLLIN;  // the stream may have come with the header
  start_connecting();
}

void ProxySession::start_connecting() {
  if (!timer_) {
    // One deadline for every backend tried.
    timer_ = env_.loop.run_after(options_.connect_timeout_ns, [this] {
      timer_ = 0;
      connect_failed(ETIMEDOUT, true);
    });
  }
  AddressBytes client{};
  if (backends_.hashes_clients())
    client = address_bytes(account_ && account_->carried_client ? *account_->carried_client : peer_address(client_.get()));
  Backend* next = backends_.pick(client, tried_);
  if (!next) {
    connect_failed(last_connect_error_ ? last_connect_error_ : EDESTADDRREQ, false);
    return;
  }
  backend_ = next;
  size_t index = backends_.index_of(backend_);
  if (index < 64) tried_ |= uint64_t{1} << index;
  addresses_ = backend_->remote().current();
  address_index_ = 0;
  connect_next();
}

void ProxySession::connect_next() {
  while (address_index_ < addresses_->size()) {
    const SocketAddress& addr = (*addresses_)[address_index_++];
    int err = 0;
    if (paths_.sessions_on_ring()) {
      // addr lives in addresses_, which the session holds until long after the submission.
      remote_fd_ = stream_socket(addr, &err);
      if (remote_fd_) {
        paths_.connect_on_ring(remote_fd_.get(), addr, ring_connect_);
        ring_connecting_ = true;
        return;
      }
      last_connect_error_ = err;
      continue;
    }
    remote_fd_ = connect_nonblocking(addr, &err);
    if (remote_fd_) {
      remote_in_loop_ = true;
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
  if (addresses_->empty()) last_connect_error_ = EDESTADDRREQ;
  // Every address of this backend failed: the next backend, if one is left untried.
  backends_.failed(*backend_);
  backend_->remote().refresh();
  log::debug("connect ", backend_->spec().where.to_string(), ": ", log::errno_text(last_connect_error_),
             "; trying another backend if one is left");
  start_connecting();
}

void ProxySession::on_side_events(bool client, uint32_t events) {
  if (state_ == State::kReadingHeader) {
    pending_client_events_ |= events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    read_proxy_header();
    return;
  }
  if (state_ == State::kConnecting) {
    if (client) pending_client_events_ |= events;
    else on_connect_result(events);
    return;
  }
  if (state_ == State::kOpen) relay_->on_events(client, events);
}

void ProxySession::on_connect_result(uint32_t events) {
  std::optional<int> err = connect_outcome(remote_fd_.get(), events);
  if (!err) return;
  if (*err == 0) {
    connected();
    return;
  }
  address_failed(*err);
}

void ProxySession::address_failed(int err) {
  last_connect_error_ = err;
  if (address_index_ > 0)
    log::debug(describe_error("connect", (*addresses_)[address_index_ - 1], last_connect_error_));
  if (remote_in_loop_) env_.loop.remove(remote_fd_.get());
  remote_in_loop_ = false;
  remote_fd_.reset();
  connect_next();  // the next address, if the name had several
}

void ProxySession::on_ring_connect(int result) {
  ring_connecting_ = false;
  if (state_ == State::kStopping) {  // closed while connecting: the sockets may go now
    close_sockets(reset_on_close_);
    return;
  }
  if (result == 0) connected();
  else address_failed(-result);
}

void ProxySession::connected() {
  if (timer_) env_.loop.cancel(timer_);
  timer_ = 0;
  set_nodelay(remote_fd_.get());
  backends_.connected(*backend_);
  holds_backend_ = true;
  if (options_.send_proxy && !send_proxy_header()) return;
  state_ = State::kOpen;
  relay_ = paths_.make_relay(
      {client_.get(), &client_side_, remote_fd_.get(), &remote_side_, client_in_loop_, remote_in_loop_}, *this);
  if (!relay_) {
    set_end(SessionEnd::kError, "the kernel relay took the sockets half-way");
    close(true);  // the kernel took the session half-way: reset
    return;
  }
  if (options_.idle_timeout_ns > 0) {
    last_activity_ns_ = env_.loop.now();
    arm_idle_timer();
  }
  relay_->start(pending_client_events_);
}

// Written before any data path takes the sockets, so that every path sends it first: the remote
// socket has just connected and its send buffer is empty, so the few bytes go out whole at once.
bool ProxySession::send_proxy_header() {
  bool carried = account_ && account_->carried_client;
  SocketAddress peer = carried ? *account_->carried_client : peer_address(client_.get());
  SocketAddress listener = carried && account_->carried_listener ? *account_->carried_listener : local_address(client_.get());
  std::string header = options_.send_proxy == 2 ? proxy_protocol::encode_v2(peer, listener)
                                                : proxy_protocol::encode_v1(peer, listener);
  ssize_t n = ::send(remote_fd_.get(), header.data(), header.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == static_cast<ssize_t>(header.size())) return true;
  std::string why = n < 0 ? log::errno_text(errno) : std::string("a short write");
  set_end(SessionEnd::kError, "sending the PROXY header: " + why);
  static log::RateLimit limit;  // shared by the workers: one line a second in all
  log::warn_limited(limit, {{"client", client()}}, "sending the PROXY header to ", backend_->spec().where.to_string(),
                    ": ", why, "; closing the client");
  state_ = State::kOpen;  // the sockets are connected: close them as an open session's
  close(true);
  return false;
}

void ProxySession::connect_failed(int err, bool timed_out) {
  if (state_ != State::kConnecting) return;
  (timed_out ? env_.counters.connect_timeout : env_.counters.connect_failed).add();
  set_end(timed_out ? SessionEnd::kConnectTimeout : SessionEnd::kConnectFailed, log::errno_text(err));
  if (timed_out && backend_) backends_.failed(*backend_);
  std::string where = backend_ ? backend_->spec().where.to_string() : backends_.describe();
  static log::RateLimit limit;  // shared by the workers: one line a second in all
  log::warn_limited(limit, {{"client", client()}}, "connect ", where, ": ", log::errno_text(err),
                    "; closing the client");
  if (backend_) backend_->remote().refresh();
  close(true);
}

void ProxySession::arm_idle_timer() {
  // One timer per idle period, re-armed lazily: activity only stamps last_activity_ns_.
  int64_t due = last_activity_ns_ + options_.idle_timeout_ns - env_.loop.now();
  if (last_activity_ns_ == 0) due = options_.idle_timeout_ns;
  timer_ = env_.loop.run_after(due, [this] {
    timer_ = 0;
    // A relay the kernel runs knows of traffic the session never saw.
    if (int64_t idle = relay_->idle_ns(); idle >= 0) last_activity_ns_ = env_.loop.now() - idle;
    if (env_.loop.now() - last_activity_ns_ >= options_.idle_timeout_ns && last_activity_ns_ != 0) {
      env_.counters.idle_timeouts.add();
      set_end(SessionEnd::kIdleTimeout);
      close(false);
    } else {
      arm_idle_timer();
    }
  });
}

// Only the end of the grace period aborts a session (Worker::abort_all): failures come through fail().
void ProxySession::abort() {
  set_end(SessionEnd::kDrain);
  close(true);
}

void ProxySession::fail(const std::exception& error) {
  set_end(SessionEnd::kError, error.what());
  close(true);
}

void ProxySession::relay_activity() {
  if (options_.idle_timeout_ns > 0) last_activity_ns_ = env_.loop.now();
}

void ProxySession::relay_finished(int err) {
  take_tally(err == 0);
  // Checked first: client() may ask the kernel, which a reset under load should not cost.
  if (err && log::level() >= log::Level::kDebug)
    log::emit_fields(log::Level::kDebug, {{"client", client()}}, "session reset: ", log::errno_text(err));
  if (options_.log_sessions) {
    const RelayTally& tally = account().tally;
    if (err) {
      set_end(tally.failed == RelaySide::kClient   ? SessionEnd::kClientReset
              : tally.failed == RelaySide::kRemote ? SessionEnd::kRemoteReset
                                                   : SessionEnd::kError,
              log::errno_text(err));
    } else {
      set_end(tally.first_eof == RelaySide::kClient   ? SessionEnd::kClientEof
              : tally.first_eof == RelaySide::kRemote ? SessionEnd::kRemoteEof
                                                      : SessionEnd::kEof);
    }
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
    take_tally(false);
    // A relay may have requests in flight that point at its buffers: the sockets close once it
    // says they may.
    state_ = State::kStopping;
    reset_on_close_ = reset;
    relay_->stop();
    return;
  }
  if (ring_connecting_) {
    // The ring's request points at this session: the sockets close once it completed.
    state_ = State::kStopping;
    reset_on_close_ = reset;
    paths_.cancel_connect(ring_connect_);
    return;
  }
  close_sockets(reset);
}

void ProxySession::close_sockets(bool reset) {
  state_ = State::kClosed;
  if (options_.log_sessions) write_session_log();
  // A reset on one side is passed on as a reset on the other: the peer learns the stream broke.
  for (Fd* fd : {&client_, &remote_fd_}) {
    if (!*fd) continue;
    // A relay took the sockets out of the loop in stop(); a remote connected on the ring was never in it.
    if (!relay_ && (fd == &client_ ? client_in_loop_ : remote_in_loop_)) env_.loop.remove(fd->get());
    if (reset) set_reset_on_close(fd->get());
    if (paths_.sessions_on_ring()) paths_.close_on_ring(std::move(*fd));
  }
  client_.reset();
  remote_fd_.reset();
  if (holds_backend_) backends_.finished(*backend_);
  holds_backend_ = false;
  if (relay_) relay_->sockets_closed();
  env_.counters.connections_closed.add();
  env_.finished(this);
}

}  // namespace sp
