#include "server/sockmap_relay.h"

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
#include "server/bpf/relay_session.h"

namespace sp {
namespace {

constexpr int64_t kFirstRecheckNs = 200'000;
constexpr int64_t kLastRecheckNs = 50 * kNsPerMs;


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

// The kernel's egress of redirected bytes writes into the destination's send buffer until it is
// full, then waits for ACKs to free room in it: TCP's autotuned 4 MiB (tcp_wmem) makes that
// wait often. 8 MiB asked (the kernel doubles it) moved 200 MB uploads at a median 18.6 Gbit/s
// against 7.5 with autotuning (12 runs each, AMD EPYC, 2 vCPU). The buffer is a limit, not an
// allocation: bytes queued for a slow destination are bounded by SP_RELAY_QUEUE_LIMIT either way.
constexpr int kDestinationSendBuffer = 8 << 20;

// SO_SNDBUFFORCE passes net.core.wmem_max; it needs CAP_NET_ADMIN, which the relay needs too, so
// a refusal is unexpected: said once, and the capped SO_SNDBUF used instead.
void widen_send_buffer(int fd) {
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &kDestinationSendBuffer, sizeof kDestinationSendBuffer) == 0) return;
  int err = errno;
  static std::once_flag said;
  std::call_once(said, [err] {
    log::warn("sockmap: SO_SNDBUFFORCE refused (", log::errno_text(err),
              "): destination send buffers stay within net.core.wmem_max, which slows bulk; grant CAP_NET_ADMIN");
  });
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kDestinationSendBuffer, sizeof kDestinationSendBuffer);
}

// tcpi_state values (include/net/tcp_states.h; <linux/tcp.h> does not have them).
enum : uint8_t { kTimeWait = 6, kClose = 7, kCloseWait = 8, kLastAck = 9, kClosing = 11 };

// In these states the peer's FIN has arrived, and TCP counted it as a received byte.
bool fin_received(uint8_t state) {
  return state == kCloseWait || state == kLastAck || state == kClosing || state == kTimeWait || state == kClose;
}

}  // namespace

SockmapRelay::SockmapRelay(SockmapWorker& worker, EventLoop& loop, metrics::WorkerCounters& counters, int client,
                           Handler* client_handler, int remote, Handler* remote_handler, Owner& owner)
    : worker_(worker),
      loop_(loop),
      counters_(counters),
      owner_(owner),
      up_(client, client_handler, remote),
      down_(remote, remote_handler, client) {}

SockmapRelay::~SockmapRelay() {
  if (timer_) loop_.cancel(timer_);
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
  for (const Direction* d : {&up_, &down_}) widen_send_buffer(d->dst);
  worker_.session_started(this, keys_);
  // The kernel moves the bytes: epoll reports only the ends of the streams and errors.
  for (const Direction* d : {&up_, &down_}) loop_.modify(d->src, EPOLLRDHUP | EPOLLET, d->src_handler);
  return 0;
}

void SockmapRelay::overflowed(uint64_t) {
  if (failed_) return;
  counters_.sockmap_overflows.add();
  static log::RateLimit limit;  // shared by the workers: one line a second in all
  log::warn_limited(limit, "sockmap: a destination did not take ", SP_RELAY_QUEUE_LIMIT >> 20,
                    " MiB the kernel relayed to it (the kernel relay has no flow control): resetting the session");
  fail(ENOBUFS);
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
    owner_.sockmap_finished(0);
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
  owner_.sockmap_finished(err);
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
