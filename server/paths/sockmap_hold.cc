// SockmapRelay's holds (server/paths/sockmap_relay.h): moving held bytes on with read/write, in
// fair turns of the worker's loop, and the source window around them (server/paths/sockmap_window.h).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/clock.h"
#include "server/paths/sockmap_relay.h"
#include "server/paths/sockmap_tcp.h"
#include "server/paths/sockmap_window.h"
#include "server/paths/turn_budget.h"

namespace sp {
namespace {

// A held direction waits for the partner's TCP to take what the kernel queued before its held
// bytes: looked at again after 50 µs, doubling to 10 ms (the psock sender drains at TCP's pace).
constexpr int64_t kFirstMoveWaitNs = 50'000;
constexpr int64_t kLastMoveWaitNs = 10 * kNsPerMs;
// Held bytes move through one buffer per held direction (this size while the worker's memory
// budget allows, else the pool's smallest), at most kMoveTurn bytes per turn, less when other
// handlers wait on the loop's ready list (turn_budget.h), as a pump's do.
constexpr size_t kMoveBuffer = 256 << 10;
constexpr size_t kMoveTurn = 2 << 20;
// How long a closed window waits for the other direction to be quiet, to reopen wide.
constexpr int64_t kQuietWaitNs = 5 * kNsPerMs;

}  // namespace

bool SockmapRelay::move_on(Direction& d) {
  if (!d.buffer) return true;  // not holding
  // The destination's TCP must first take every byte the kernel redirected before the held ones:
  // until then the window stays closed and nothing is read. (A hold the worker caused by pausing
  // the direction for a moment finds nothing waiting, and the window open.)
  if (!(d.pending && d.pending_in_order)) {
    if (!redirected_ones_written(d)) {
      set_window(d, false);
      rearm_move();
      return true;
    }
    d.pending_in_order = d.pending != 0;  // bytes in hand were read before this check
  }
  // Reading opens the window again: the read sends the window update the sender waits for. Wide
  // only while nothing is on its way into d.src (set_window); that is usually so within a moment,
  // and a narrow window costs its sender a hundred milliseconds and more, so it waits a little.
  if (d.window_closed && !redirected_ones_written(other(d))) {
    if (!d.quiet_wait_from) d.quiet_wait_from = loop_.now();
    if (loop_.now() - d.quiet_wait_from < kQuietWaitNs) {
      rearm_move();
      return true;
    }
  }
  d.quiet_wait_from = 0;
  set_window(d, true);
  uint64_t before = d.released;
  size_t moved = 0;
  int err = 0;
  bool kernel_behind = false;
  size_t budget = turn_budget(loop_.ready_count(), kMoveTurn);
  while (moved < budget) {
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
    counters_.sockmap_moved_bytes.add(d.released - before);
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
    rearm_move();
  } else if (moved >= budget) {
    loop_.defer(&move_turn_);  // more may wait: after the turns queued before
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

void SockmapRelay::move_turn() {
  if (failed_ || detached_) return;
  if (move_on(up_) && move_on(down_)) check();
}

void SockmapRelay::rearm_move() {
  if (move_timer_) return;
  int64_t delay = move_wait_ns_ ? move_wait_ns_ : kFirstMoveWaitNs;
  move_wait_ns_ = std::min(delay * 2, kLastMoveWaitNs);
  move_timer_ = loop_.run_after(delay, [this] {
    move_timer_ = 0;
    move_turn();
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
  // whose destination it is, paused with nothing redirected still on its way. A direction paused
  // for the other's hold may pause that one in turn: each pause ends once the direction that asked
  // for it has no held bytes left (unpause_after), so neither outlives both holds.
  Direction& into_src = other(d);
  bool quiet = redirected_ones_written(into_src) && pause(into_src);
  reopen_source_window(d.src, quiet);
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
  Direction& paused = other(held);
  if (paused.paused && held.pending == 0 && worker_.map().taken(held.key).held == held.released) unpause(paused);
}

void SockmapRelay::publish_released(const Direction& d) { worker_.map().released(d.key, d.released, d.paused); }

}  // namespace sp
