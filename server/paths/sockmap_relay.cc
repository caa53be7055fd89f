#include "server/paths/sockmap_relay.h"

#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"
#include "server/paths/bpf/relay_session.h"
#include "server/paths/sockmap_tcp.h"
#include "server/paths/sockmap_window.h"

namespace sp {
namespace {

constexpr int64_t kFirstRecheckNs = 200'000;
constexpr int64_t kLastRecheckNs = 50 * kNsPerMs;
constexpr uint32_t kBaseEvents = EPOLLRDHUP | EPOLLET;

// SO_SNDBUFFORCE passes net.core.wmem_max; it needs CAP_NET_ADMIN, which the relay needs too, so
// a refusal is unexpected: said once, and the capped SO_SNDBUF used instead. Sizes and when:
// server/paths/wide_buffers.h.
void set_send_buffer(int fd, int bytes) {
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) == 0) return;
  int err = errno;
  static std::once_flag said;
  std::call_once(said, [err] {
    log::warn("sockmap: SO_SNDBUFFORCE refused (", log::errno_text(err),
              "): destination send buffers stay within net.core.wmem_max, which slows bulk; grant CAP_NET_ADMIN");
  });
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

// tcpi_state values (include/net/tcp_states.h; <linux/tcp.h> does not have them).
enum : uint8_t { kTimeWait = 6, kClose = 7, kCloseWait = 8, kLastAck = 9, kClosing = 11 };

// In these states the peer's FIN has arrived, and TCP counted it as a received byte.
bool fin_received(uint8_t state) {
  return state == kCloseWait || state == kLastAck || state == kClosing || state == kTimeWait || state == kClose;
}

}  // namespace

SockmapRelay::SockmapRelay(SockmapWorker& worker, EventLoop& loop, PumpContext& pumps, const RelaySockets& sockets,
                           RelayOwner& owner)
    : worker_(worker),
      loop_(loop),
      pumps_(pumps),
      counters_(pumps.counters),
      owner_(owner),
      up_(sockets.client, sockets.client_handler, sockets.remote),
      down_(sockets.remote, sockets.remote_handler, sockets.client) {}

SockmapRelay::~SockmapRelay() {
  detach();
  for (Direction* d : {&up_, &down_}) pumps_.buffers.release(std::move(d->buffer));
}

void SockmapRelay::detach() {
  if (detached_) return;
  detached_ = true;
  if (timer_) loop_.cancel(timer_);
  if (move_timer_) loop_.cancel(move_timer_);
  timer_ = move_timer_ = 0;
  worker_.map().erase(keys_);
  if (started_) worker_.session_ended(keys_);
}

void SockmapRelay::start(uint32_t pending_client_events) {
  counters_.sockmap_sessions.add();
  // What the client did while we were connecting (its FIN, say) happened before the edge we wait for.
  if (pending_client_events & (EPOLLRDHUP | EPOLLERR)) on_events(true, pending_client_events);
}

void SockmapRelay::stop() {
  loop_.remove(up_.src);
  loop_.remove(down_.src);
  owner_.relay_stopped();
}

int SockmapRelay::attach(bool* partial) {
  // Nothing was written into either socket yet: what TCP counts now is the handshake alone.
  up_.written_before = static_cast<uint64_t>(written(up_.dst));
  down_.written_before = static_cast<uint64_t>(written(down_.dst));
  if (int err = worker_.map().insert(up_.src, up_.dst, worker_.counter(), worker_.ring(), &keys_, partial))
    return err;
  up_.key = keys_.client;
  down_.key = keys_.remote;
  started_ = true;
  for (const Direction* d : {&up_, &down_})
    ::setsockopt(d->src, SOL_SOCKET, SO_RCVBUF, &kSourceReceiveBuffer, sizeof kSourceReceiveBuffer);
  worker_.session_started(this, keys_);
  // The kernel moves the bytes: epoll reports only the ends of the streams and errors, and what a
  // held direction needs (update_interest).
  update_interest();
  return 0;
}

void SockmapRelay::set_wide(bool wide) {
  for (const Direction* d : {&up_, &down_}) set_send_buffer(d->dst, wide ? kWideSendBuffer : kNarrowSendBuffer);
}

void SockmapRelay::told(uint64_t cookie, uint32_t what) {
  if (failed_) return;
  if (what == SP_RELAY_BULK) {
    // Widened within the worker's budget, and only where bulk was seen (server/paths/wide_buffers.h).
    if (!wide_asked_ && worker_.admit_wide(this)) set_wide(true);
    wide_asked_ = true;
    return;
  }
  Direction& d = cookie == up_.key ? up_ : down_;
  if (what == SP_RELAY_HOLD || what == SP_RELAY_RESUME) {
    d.holding = what == SP_RELAY_HOLD;
    if (d.holding) {
      if (!d.buffer) d.buffer = take_move_buffer();
      counters_.sockmap_holds.add();
      move_on(d);  // which closes the window if the held bytes cannot move yet
    } else {
      // The program resumes only once every held byte was written, but this event may be read
      // late: after a new hold whose bytes the relay is already moving. Those stay in the buffer
      // until written (move_on lets it go then).
      if (d.pending == 0) pumps_.buffers.release(std::move(d.buffer));
      set_window(d, true);
      unpause_after(d);
      update_interest();
    }
    return;
  }
  static log::RateLimit limit;  // shared by the workers: one line a second in all
  if (what == SP_RELAY_UNTRIMMABLE) {
    counters_.sockmap_untrimmable.add();
    log::warn_limited(limit, "sockmap: a retransmitted segment overlapped bytes already relayed and could not be "
                             "trimmed: resetting the session rather than sending a byte twice");
    fail(EPROTO);
    return;
  }
  counters_.sockmap_overflows.add();
  log::warn_limited(limit, "sockmap: a direction passed a last-resort limit (", SP_RELAY_QUEUE_LIMIT >> 20,
                    " MiB queued for its destination or ", SP_RELAY_HELD_LIMIT >> 20,
                    " MiB held and not yet moved on): resetting the session");
  fail(ENOBUFS);
}

void SockmapRelay::on_events(bool client, uint32_t events) {
  if (failed_) return;
  Direction& out = client ? up_ : down_;  // the socket is its source
  if (events & EPOLLERR) {
    // No EPIPE is expected from the relay itself: the program drops the empty segment that
    // carries a FIN alone instead of redirecting it (server/paths/bpf/relay.bpf.c).
    if (int err = socket_error(out.src)) {
      fail(err);
      return;
    }
  }
  if (events & EPOLLRDHUP) out.eof = true;
  if ((events & EPOLLIN) && !move_on(out)) return;
  Direction& in = client ? down_ : up_;  // the socket is its destination
  if ((events & EPOLLOUT) && !move_on(in)) return;
  recheck_ns_ = kFirstRecheckNs;
  check();
}

uint32_t SockmapRelay::interest(const Direction& as_src, const Direction& as_dst) const {
  return kBaseEvents | (as_src.buffer ? EPOLLIN : 0u) | (as_dst.pending ? EPOLLOUT : 0u);
}

void SockmapRelay::update_interest() {
  uint32_t client = interest(up_, down_), remote = interest(down_, up_);
  if (client != client_events_) loop_.modify(up_.src, client_events_ = client, up_.src_handler);
  if (remote != remote_events_) loop_.modify(down_.src, remote_events_ = remote, down_.src_handler);
}

SockmapRelay::Progress SockmapRelay::progress(const Direction& d) const {
  tcp_info info;
  if (!tcp_info_of(d.src, &info)) return {0, 0, 0, 0};
  int64_t received = static_cast<int64_t>(info.tcpi_bytes_received) - (fin_received(info.tcpi_state) ? 1 : 0);
  Sockmap::Taken taken = worker_.map().taken(d.key);
  return {received, static_cast<int64_t>(taken.redirected + taken.held), static_cast<int64_t>(taken.redirected),
          written(d.dst) - static_cast<int64_t>(d.written_before)};
}

void SockmapRelay::check() {
  for (Direction* d : {&up_, &down_}) {
    if (!d->eof || d->finished) continue;
    Progress p = progress(*d);
    if (p.unread() <= 0 && p.queued() <= 0) {
      d->finished = true;
      ::shutdown(d->dst, SHUT_WR);
    }
  }
  if (up_.finished && down_.finished) {
    owner_.relay_finished(0);
    return;
  }
  bool waiting = (up_.eof && !up_.finished) || (down_.eof && !down_.finished);
  if (!waiting || timer_) return;
  timer_ = loop_.run_after(recheck_ns_, [this] {
    timer_ = 0;
    recheck_ns_ = std::min(recheck_ns_ * 2, kLastRecheckNs);
    check();
  });
}

void SockmapRelay::fail(int err) {
  failed_ = true;
  if (err) counters_.resets.add();
  owner_.relay_finished(err);
}

int64_t SockmapRelay::idle_ns() const {
  uint32_t idle_ms = UINT32_MAX;
  for (int fd : {up_.src, down_.src}) {
    tcp_info info;
    if (tcp_info_of(fd, &info)) idle_ms = std::min(idle_ms, info.tcpi_last_data_recv);
  }
  return idle_ms == UINT32_MAX ? 0 : int64_t{idle_ms} * kNsPerMs;
}

}  // namespace sp
