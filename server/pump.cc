#include "server/pump.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

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
    pipe_ = Pipe{};
  }
  if (buffer_) ctx_.buffers.release(std::move(buffer_));
  offset_ = 0;
}

ssize_t Pump::fill() {
  if (splicing() && !pipe_.read_end && !ctx_.pipes.acquire(pipe_)) {
    // No pipe to be had: this direction carries on with read/write for the rest of the session.
    mode_ = PumpMode::kReadWrite;
    ctx_.counters.rw_fallbacks.add();
  }
  if (splicing()) {
    if (buffer_) ctx_.buffers.release(std::move(buffer_));  // kAuto switched: hold one or the other
    ctx_.counters.splice_calls.add();
    ssize_t n = ::splice(src_, nullptr, pipe_.write_end.get(), nullptr, pipe_.capacity,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (mode_ == PumpMode::kAuto && n >= 0 && static_cast<size_t>(n) < ctx_.buffers.buffer_size()) bulk_ = false;
    return n;
  }
  if (pipe_.read_end) release_holding();  // kAuto switched back: the pipe is drained (held_ == 0)
  if (!buffer_) buffer_ = ctx_.buffers.acquire();
  offset_ = 0;
  ctx_.counters.read_calls.add();
  ssize_t n = ::read(src_, buffer_.get(), ctx_.buffers.buffer_size());
  if (mode_ == PumpMode::kAuto && n > 0 && static_cast<size_t>(n) == ctx_.buffers.buffer_size()) bulk_ = true;
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
    if (moved >= budget) return Status::kMoreWork;
    ssize_t n = fill();
    if (n > 0) {
      held_ = static_cast<size_t>(n);
      // A short read drained the socket (with a FIN pending we must read on to see the EOF).
      // Splice cannot tell: a pipe may run out of slots before bytes, so it waits for EAGAIN.
      if (!pipe_.read_end && !src_hup_ && static_cast<size_t>(n) < ctx_.buffers.buffer_size())
        src_ready_ = false;
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
    release_holding();
    return Status::kFailed;
  }
}

}  // namespace sp
