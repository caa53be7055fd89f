#include "server/sockmap_relay.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"

namespace sp {
namespace {

constexpr int64_t kFirstRecheckNs = 200'000;
constexpr int64_t kLastRecheckNs = 50 * kNsPerMs;

constexpr size_t kTailBudget = 64 << 20;  // a tail is at most a receive buffer: one turn moves it

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

// tcpi_state values (include/net/tcp_states.h; <linux/tcp.h> does not have them).
enum : uint8_t { kTimeWait = 6, kClose = 7, kCloseWait = 8, kLastAck = 9, kClosing = 11 };

// In these states the peer's FIN has arrived, and TCP counted it as a received byte.
bool fin_received(uint8_t state) {
  return state == kCloseWait || state == kLastAck || state == kClosing || state == kTimeWait || state == kClose;
}

}  // namespace

SockmapRelay::SockmapRelay(SockmapWorker& worker, EventLoop& loop, PumpContext& pumps, int client,
                           Handler* client_handler, int remote, Handler* remote_handler, Owner& owner)
    : worker_(worker),
      loop_(loop),
      pumps_(pumps),
      owner_(owner),
      up_(client, client_handler, remote, pumps.counters.bytes_in),
      down_(remote, remote_handler, client, pumps.counters.bytes_out) {}

SockmapRelay::~SockmapRelay() {
  if (timer_) loop_.cancel(timer_);
  up_.tail.reset();
  down_.tail.reset();
  worker_.map().erase(keys_);
  if (started_) worker_.session_ended(keys_);
}

int SockmapRelay::start(bool* partial) {
  // Nothing was written into either socket yet: what TCP counts now is the handshake alone.
  up_.written_before = static_cast<uint64_t>(written(up_.dst));
  down_.written_before = static_cast<uint64_t>(written(down_.dst));
  if (int err = worker_.map().insert(up_.src, up_.dst, worker_.counter(), worker_.ring(), &keys_, partial))
    return err;
  up_.key = keys_.client;
  down_.key = keys_.remote;
  started_ = true;
  worker_.session_started(this, keys_);
  watch(up_.src);
  watch(down_.src);
  return 0;
}

void SockmapRelay::watch(int fd) {
  const Direction& out = fd == up_.src ? up_ : down_;  // fd is its source
  const Direction& in = fd == up_.src ? down_ : up_;   // and its destination
  // The ends of the streams and errors always; a pump's edges; the destination's send buffer
  // freeing up while its direction waits for the kernel's queue to shrink.
  uint32_t events = EPOLLRDHUP | EPOLLET;
  if (out.tail) events |= EPOLLIN | EPOLLOUT;
  if (in.tail || in.paused) events |= EPOLLOUT;
  loop_.modify(fd, events, out.src_handler);
}

void SockmapRelay::congested(uint64_t cookie) {
  if (failed_) return;
  Direction& d = cookie == up_.key ? up_ : down_;
  if (!d.paused && !d.tail && !d.finished) pause(d);
  recheck_ns_ = kFirstRecheckNs;
  check();
}

void SockmapRelay::pause(Direction& d) {
  worker_.map().release(d.key);
  d.paused = true;
  pumps_.counters.sockmap_pauses.add();
  watch(d.dst);
}

void SockmapRelay::on_events(bool client, uint32_t events) {
  if (failed_) return;
  Direction& out = client ? up_ : down_;  // the socket is its source
  Direction& in = client ? down_ : up_;   // and its destination
  if (events & EPOLLERR) {
    int err = socket_error(out.src);
    // The kernel passes a FIN on as an empty segment, which its sender reports as EPIPE on the
    // socket it was redirected to, after the data before it: not an error, and a moment to look.
    if (err && !(err == EPIPE && in.eof)) {
      fail(err);
      return;
    }
  }
  if (events & EPOLLRDHUP) out.eof = true;
  if (out.tail) out.tail->source_events(events);
  if (in.tail && (events & EPOLLOUT)) in.tail->destination_writable();
  recheck_ns_ = kFirstRecheckNs;
  check();
}

SockmapRelay::Progress SockmapRelay::progress(const Direction& d) const {
  tcp_info info;
  if (!tcp_info_of(d.src, &info)) return {0, 0, 0};
  int64_t received = static_cast<int64_t>(info.tcpi_bytes_received) - (fin_received(info.tcpi_state) ? 1 : 0);
  int64_t redirected = static_cast<int64_t>(worker_.map().redirected(d.key));
  return {received, redirected, written(d.dst) - static_cast<int64_t>(d.written_before)};
}

bool SockmapRelay::flow(Direction& d) {
  if (d.tail) {
    Pump::Status status = d.tail->run(kTailBudget);
    if (status == Pump::Status::kFailed) return fail(d.tail->error());
    d.finished = d.tail->finished();
    return true;
  }
  Progress p = progress(d);
  if (d.paused && p.queued() <= kResumeBytes) {
    if (worker_.map().resume(d.src, d.key) == 0) {
      d.paused = false;
      watch(d.dst);
    } else if (p.queued() <= 0) {
      // Refused (the peer closed meanwhile) and the kernel's queue is empty: the rest by pump.
      d.paused = false;
      d.tail = std::make_unique<Pump>(d.src, d.dst, PumpMode::kSplice, pumps_, d.bytes);
      d.tail->source_events(d.eof ? EPOLLIN | EPOLLRDHUP : uint32_t{EPOLLIN});
      watch(d.src);
      watch(d.dst);
      return flow(d);
    }
  }
  if (d.eof && !d.paused && p.unread() <= 0 && p.queued() <= 0) {
    d.finished = true;
    ::shutdown(d.dst, SHUT_WR);
  }
  return true;
}

void SockmapRelay::check() {
  for (Direction* d : {&up_, &down_}) {
    if (!d->finished && !flow(*d)) return;  // failed: the owner has closed the session and us
  }
  if (up_.finished && down_.finished) {
    owner_.sockmap_finished(0);
    return;
  }
  bool waiting = false;
  for (const Direction* d : {&up_, &down_}) waiting |= !d->finished && (d->eof || d->paused || d->tail);
  if (!waiting || timer_) return;
  timer_ = loop_.run_after(recheck_ns_, [this] {
    timer_ = 0;
    recheck_ns_ = std::min(recheck_ns_ * 2, kLastRecheckNs);
    check();
  });
}

bool SockmapRelay::fail(int err) {
  failed_ = true;
  owner_.sockmap_finished(err);  // destroys this relay: touch nothing after it
  return false;
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
