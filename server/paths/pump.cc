#include "server/paths/pump.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sp {

const char* to_string(PumpMode mode) {
  switch (mode) {
    case PumpMode::kReadWrite: return "rw";
    case PumpMode::kSplice: return "splice";
    case PumpMode::kAuto: return "auto";
  }
  return "?";
}

Pump::Pump(int src, int dst, PumpMode mode, PumpContext& ctx, metrics::Counter& bytes_counter)
    : src_(src), dst_(dst), mode_(mode), ctx_(ctx), bytes_counter_(bytes_counter) {}

Pump::~Pump() { release_holding(); }

void Pump::source_events(uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) src_ready_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) src_hup_ = true;
}

void Pump::release_holding() {
  if (pipe_.read_end) {
    // A pipe that may still hold bytes is closed, never pooled.
    if (held_ == 0) ctx_.pipes.release(std::move(pipe_));
    else ctx_.pipes.discard(std::move(pipe_));
  }
  ctx_.buffers.release(std::move(buffer_));
  offset_ = 0;
}

size_t affordable_rung(PumpContext& ctx, size_t rung, size_t wanted, size_t holding) {
  if (rung == 0) return 0;
  const auto& c = ctx.counters;
  size_t others = c.buffer_bytes_held.get() + c.pipe_bytes_held.get() - holding;
  if (others + wanted <= ctx.memory_budget) return rung;
  ctx.counters.budget_refusals.add();
  return 0;
}

// Called only while nothing is held: the buffer in hand (if any) is empty and may be swapped.
void Pump::hold_buffer() {
  if (pipe_.read_end) ctx_.pipes.release(std::move(pipe_));  // kAuto switched back: one or the other
  if (buffer_ && buffer_.rung == buffer_rung_) return;
  buffer_rung_ = affordable_rung(ctx_, buffer_rung_, ctx_.buffers.ladder().size(buffer_rung_), buffer_ ? buffer_.size : 0);
  if (buffer_ && buffer_.rung == buffer_rung_) return;
  ctx_.buffers.release(std::move(buffer_));
  buffer_ = ctx_.buffers.acquire(buffer_rung_);
}

bool Pump::hold_pipe() {
  ctx_.buffers.release(std::move(buffer_));  // kAuto switched: hold one or the other
  if (pipe_.read_end && pipe_.rung == pipe_rung_) return true;
  pipe_rung_ = affordable_rung(ctx_, pipe_rung_, ctx_.pipes.ladder().size(pipe_rung_), pipe_.read_end ? pipe_.capacity : 0);
  if (pipe_.read_end && pipe_.rung == pipe_rung_) return true;
  ctx_.pipes.release(std::move(pipe_));
  return ctx_.pipes.acquire(pipe_rung_, pipe_);
}

// Climb a rung when a read filled what it had (for a pipe, half: its slots may run out before its
// bytes), but only while the larger size could still be filled within one turn's budget: a read
// never asks for more than the budget, so a buffer past it would be held and never used. Fall a
// rung when a read got under a quarter of what it had and less than it asked for (a read cut
// short by the budget's remainder says nothing about the traffic).
void Pump::adapt_after_fill(size_t n, size_t asked) {
  bool piped = static_cast<bool>(pipe_.read_end);
  size_t have = piped ? pipe_.capacity : buffer_.size;
  size_t& rung = piped ? pipe_rung_ : buffer_rung_;
  const SizeLadder& ladder = piped ? ctx_.pipes.ladder() : ctx_.buffers.ladder();
  size_t next_fill = ladder.size(rung + 1) / (piped ? 2 : 1);
  if (n >= (piped ? have / 2 : have)) {
    if (rung < ladder.top() && next_fill <= turn_budget_) ++rung;
    else if (mode_ == PumpMode::kAuto && !piped && !bulk_) {
      bulk_ = true;  // reads fill the largest useful buffer: time read/write against splice from here
      chooser_.resume(ctx_.auto_probe_bytes, ctx_.auto_verdict);
    }
  } else if (n < have / 4 && n < asked && rung > 0) {
    --rung;
  }
  // A bulk stream has short reads too (the proxy drained the socket): only a run of them ends it.
  bool small = n < SizeLadder::kStartSize && n < asked;
  small_fills_ = small ? std::min<uint8_t>(small_fills_ + 1, kSmallFillsEndBulk) : 0;
  if (bulk_ && small_fills_ >= kSmallFillsEndBulk) bulk_ = false;
}

ssize_t Pump::fill(size_t limit, size_t& asked) {
  if (splicing() && !hold_pipe()) {
    // No pipe to be had: this direction carries on with read/write for the rest of the session.
    mode_ = PumpMode::kReadWrite;
    ctx_.counters.rw_fallbacks.add();
  }
  if (splicing()) {
    ctx_.counters.splice_calls.add();
    asked = std::min(pipe_.capacity, limit);
    ssize_t n = ::splice(src_, nullptr, pipe_.write_end.get(), nullptr, asked, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) adapt_after_fill(static_cast<size_t>(n), asked);
    return n;
  }
  hold_buffer();
  offset_ = 0;
  ctx_.counters.read_calls.add();
  asked = std::min(buffer_.size, limit);
  ssize_t n = ::read(src_, buffer_.get(), asked);
  if (n > 0) adapt_after_fill(static_cast<size_t>(n), asked);
  return n;
}

ssize_t Pump::drain() {
  if (pipe_.read_end) {
    ctx_.counters.splice_calls.add();
    return ::splice(pipe_.read_end.get(), nullptr, dst_, nullptr, held_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  }
  ctx_.counters.write_calls.add();
  return ::send(dst_, buffer_.get() + offset_, held_, MSG_NOSIGNAL);
}

Pump::Status Pump::run(size_t budget) {
  if (finished_) return Status::kFinished;
  if (error_) return Status::kFailed;
  turn_budget_ = budget;
  size_t moved = 0;
  for (;;) {
    if (held_ > 0) {
      if (!dst_ready_) return Status::kWaiting;
      ssize_t n = drain();
      if (n < 0) {
        if (errno == EAGAIN) {
          ctx_.counters.eagain.add();
          dst_ready_ = false;
          return Status::kWaiting;
        }
        if (errno == EINTR) continue;
        error_ = errno;
        return Status::kFailed;
      }
      held_ -= static_cast<size_t>(n);
      offset_ += static_cast<size_t>(n);
      bytes_ += static_cast<uint64_t>(n);
      bytes_counter_.add(static_cast<uint64_t>(n));
      moved += static_cast<size_t>(n);
      if (bulk_ && chooser_.delivered(static_cast<uint64_t>(n), ctx_.auto_verdict)) {
        ctx_.counters.auto_probes.add();
        if (chooser_.splice_wins()) ctx_.counters.auto_chose_splice.add();
      }
      // A short send means the socket buffer filled: the next send would only say EAGAIN, and
      // the kernel raises an EPOLLOUT edge when space frees up, so skip that syscall. (A short
      // splice proves less, so splice goes round again and waits for the EAGAIN.)
      if (held_ > 0 && !pipe_.read_end) {
        dst_ready_ = false;
        return Status::kWaiting;
      }
      continue;
    }
    if (src_eof_) {
      release_holding();
      ::shutdown(dst_, SHUT_WR);
      finished_ = true;
      return Status::kFinished;
    }
    if (!src_ready_) {
      release_holding();
      return Status::kWaiting;
    }
    // Bytes moved, not reads made: a read asks for at most what is left of the budget, so a turn
    // costs the same whatever size the buffer or pipe has grown to.
    if (moved >= budget) return Status::kMoreWork;
    size_t asked = 0;
    ssize_t n = fill(budget - moved, asked);
    if (n > 0) {
      held_ = static_cast<size_t>(n);
      // A read shorter than asked drained the socket (with a FIN pending we must read on to see
      // the EOF). Splice cannot tell: a pipe may run out of slots before bytes, so it waits for EAGAIN.
      if (!pipe_.read_end && !src_hup_ && static_cast<size_t>(n) < asked) src_ready_ = false;
      continue;
    }
    if (n == 0) {
      src_eof_ = true;
      continue;
    }
    if (errno == EAGAIN) {
      ctx_.counters.eagain.add();
      src_ready_ = false;
      continue;  // releases the holding area above
    }
    if (errno == EINTR) continue;
    error_ = errno;
    failed_at_source_ = true;
    release_holding();
    return Status::kFailed;
  }
}

}  // namespace sp
