#include "server/paths/sockmap_relay.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"
#include "server/paths/bpf/relay_session.h"
#include "server/paths/sockmap_window.h"

namespace sp {
namespace {

constexpr int64_t kFirstRecheckNs = 200'000;
constexpr int64_t kLastRecheckNs = 50 * kNsPerMs;
// A held direction waits for the partner's TCP to take what the kernel queued before its held
// bytes: looked at again after 50 µs, doubling to 10 ms (the psock sender drains at TCP's pace).
constexpr int64_t kFirstMoveWaitNs = 50'000;
constexpr int64_t kLastMoveWaitNs = 10 * kNsPerMs;
// Held bytes move through one buffer per held direction (this size while the worker's memory
// budget allows, else the pool's smallest), at most kMoveTurn bytes per turn of the loop so that
// the worker's other sessions get theirs.
constexpr size_t kMoveBuffer = 256 << 10;
// How long a closed window waits for the other direction to be quiet, to reopen wide.
constexpr int64_t kQuietWaitNs = 5 * kNsPerMs;
constexpr size_t kMoveTurn = 2 << 20;
constexpr uint32_t kBaseEvents = EPOLLRDHUP | EPOLLET;


bool tcp_info_of(int fd, tcp_info* info) {
  socklen_t len = sizeof *info;
  *info = {};
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len) == 0;
}

int64_t ioctl_bytes(int fd, unsigned long request) {
  int n = 0;
  return ::ioctl(fd, request, &n) == 0 ? std::max(n, 0) : 0;
}

// Bytes the socket has taken from its writers since it connected: acknowledged ones plus what is
// still queued. Two calls, so the sum may lag the truth (ACKs between them) but never exceed it.
int64_t written(int fd) {
  tcp_info info;
  if (!tcp_info_of(fd, &info)) return 0;
  return static_cast<int64_t>(info.tcpi_bytes_acked) + ioctl_bytes(fd, SIOCOUTQ);
}

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

bool SockmapRelay::move_on(Direction& d) {
  if (!d.buffer) return true;  // not holding
  // The destination's TCP must first take every byte the kernel redirected before the held ones:
  // until then the window stays closed and nothing is read. (A hold the worker caused by pausing
  // the direction for a moment finds nothing waiting, and the window open.)
  if (!(d.pending && d.pending_in_order)) {
    if (!redirected_ones_written(d)) {
      set_window(d, false);
      rearm_move(d);
      return true;
    }
    d.pending_in_order = d.pending != 0;  // bytes in hand were read before this check
  }
  // Reading opens the window again: the read sends the window update the sender waits for. Wide
  // only while nothing is on its way into d.src (set_window); that is usually so within a moment,
  // and a narrow window costs its sender a hundred milliseconds and more, so it waits a little.
  if (d.window_closed && !d.paused && !redirected_ones_written(other(d))) {
    if (!d.quiet_wait_from) d.quiet_wait_from = loop_.now();
    if (loop_.now() - d.quiet_wait_from < kQuietWaitNs) {
      rearm_move(d);
      return true;
    }
  }
  d.quiet_wait_from = 0;
  set_window(d, true);
  uint64_t before = d.released;
  size_t moved = 0;
  int err = 0;
  bool kernel_behind = false;
  while (moved < kMoveTurn) {
    if (d.pending == 0) {
      ssize_t n = ::recv(d.src, d.buffer.get(), d.buffer.size, MSG_DONTWAIT);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) err = errno;
        // Held bytes the relay cannot read yet: close the window until they arrive. (0: the FIN
        // is seen, but held bytes may still be on their way; epoll says when.)
        if (!err && worker_.map().taken(d.key).held > d.released) set_window(d, false);
        break;
      }
      d.pending_at = 0;
      d.pending = static_cast<size_t>(n);
      d.pending_in_order = false;
    }
    // Checked for the bytes in hand, after reading them: once every held byte was written, the
    // program may resume, redirect more and hold again at any moment, so bytes read after an
    // earlier check may belong to a newer hold, behind redirected bytes the destination has not
    // taken yet (2 MiB of them: CI saw a stream 32 messages of 64 KiB ahead of itself).
    if (!d.pending_in_order && !(d.pending_in_order = redirected_ones_written(d))) {
      kernel_behind = true;
      break;
    }
    ssize_t n = ::send(d.dst, d.buffer.get() + d.pending_at, d.pending, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) err = errno;
      if (!err) set_window(d, false);  // the destination is full: hold the sender until it drains
      break;
    }
    d.pending_at += static_cast<size_t>(n);
    d.pending -= static_cast<size_t>(n);
    d.released += static_cast<uint64_t>(n);
    moved += static_cast<size_t>(n);
  }
  if (d.released != before) {
    publish_released(d);
    unpause_after(d);
    (&d == &up_ ? counters_.bytes_in : counters_.bytes_out).add(d.released - before);
  }
  if (err) {
    fail(err);
    return false;
  }
  // The timer's wait starts again only after progress: a look that moved nothing (held bytes not
  // readable yet, a full destination) backs off, or a stalled session costs a core.
  if (moved) move_wait_ns_ = kFirstMoveWaitNs;
  if (kernel_behind) {
    set_window(d, false);  // nothing moves until the kernel's queue drained
    rearm_move(d);
  } else if (moved >= kMoveTurn) {
    rearm_move(d);  // more may wait: after the other sessions' turn
  }
  if (!d.holding && d.pending == 0) pumps_.buffers.release(std::move(d.buffer));  // the last bytes of a hold that has ended
  update_interest();
  return true;
}

int64_t SockmapRelay::kernel_queued(uint64_t cookie) const {
  return std::max<int64_t>(redirected_waiting(cookie == up_.key ? up_ : down_), 0);
}

int64_t SockmapRelay::redirected_waiting(const Direction& d) const {
  // Written is read before redirected: the bytes in hand keep the program holding (they are not
  // released yet), so redirected cannot grow past them, and a lagging written only errs towards
  // more waiting.
  int64_t kernel_written = written(d.dst) - static_cast<int64_t>(d.written_before + d.released);
  return static_cast<int64_t>(worker_.map().taken(d.key).redirected) - kernel_written;
}

bool SockmapRelay::redirected_ones_written(const Direction& d) const { return redirected_waiting(d) <= 0; }

void SockmapRelay::rearm_move(Direction& d) {
  if (move_timer_) return;
  int64_t delay = move_wait_ns_ ? move_wait_ns_ : kFirstMoveWaitNs;
  move_wait_ns_ = std::min(delay * 2, kLastMoveWaitNs);
  Direction* held = &d;
  move_timer_ = loop_.run_after(delay, [this, held] {
    move_timer_ = 0;
    Direction& other = held == &up_ ? down_ : up_;
    if (move_on(*held) && move_on(other)) check();
  });
}

BufferPool::Buffer SockmapRelay::take_move_buffer() {
  const SizeLadder& ladder = pumps_.buffers.ladder();
  size_t rung = 0;
  while (rung < ladder.top() && ladder.size(rung) < kMoveBuffer) ++rung;
  return pumps_.buffers.acquire(affordable_rung(pumps_, rung, ladder.size(rung), 0));
}

void SockmapRelay::set_window(Direction& d, bool open) {
  if (d.window_closed != open) return;
  d.window_closed = !open;
  if (!open) {
    close_source_window(d.src);
    return;
  }
  // Reopened wide (sockmap_window.h) only while nothing is written into d.src: the other direction,
  // whose destination it is, paused with nothing redirected still on its way.
  Direction& into_src = other(d);
  bool quiet = !d.paused && redirected_ones_written(into_src) && pause(into_src);
  reopen_source_window(d.src, quiet ? kSourceReceiveBuffer : 0);
}

bool SockmapRelay::pause(Direction& d) {
  if (d.paused) return true;
  d.paused = true;
  publish_released(d);
  // TCP_INFO takes d.src's socket lock, under which the program runs: a run that began before the
  // pause has redirected its segment by now, and any later one holds it.
  tcp_info info;
  tcp_info_of(d.src, &info);
  if (redirected_ones_written(d)) return true;
  unpause(d);
  return false;
}

void SockmapRelay::unpause(Direction& d) {
  if (!d.paused) return;
  d.paused = false;
  publish_released(d);
}

void SockmapRelay::unpause_after(Direction& held) {
  // Every held byte moved on: the program relays `held` in the kernel at its next segment (a hold
  // it starts after that closes the window first, in move_on). Checked here rather than trusted to
  // a resume event, which may be read after a newer hold began.
  if (held.pending == 0 && worker_.map().taken(held.key).held == held.released) unpause(other(held));
}

void SockmapRelay::publish_released(const Direction& d) { worker_.map().released(d.key, d.released, d.paused); }

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
