#include "common/accept_loop.h"

#include <cerrno>

#include "common/clock.h"
#include "common/socket.h"

namespace sp {
namespace {
constexpr int kAcceptsPerTurn = 64;
constexpr int64_t kPauseNs = 100 * kNsPerMs;
}  // namespace

AcceptLoop::AcceptLoop(EventLoop& loop, Fd listening, OnClient on_client, OnPause on_pause)
    : loop_(loop), fd_(std::move(listening)), on_client_(std::move(on_client)), on_pause_(std::move(on_pause)) {
  loop_.add(fd_.get(), EPOLLIN | EPOLLET, this);
}

AcceptLoop::~AcceptLoop() { close(); }

void AcceptLoop::close() {
  if (resume_timer_) loop_.cancel(resume_timer_);
  resume_timer_ = 0;
  if (!fd_) return;
  loop_.remove(fd_.get());
  fd_.reset();
}

void AcceptLoop::accept_some() {
  if (paused_ || !fd_) return;
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    int err = 0;
    Fd client = accept_nonblocking(fd_.get(), &err);
    if (!client) {
      if (err == EAGAIN) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      paused_ = true;
      resume_timer_ = loop_.run_after(kPauseNs, [this] {
        resume_timer_ = 0;
        paused_ = false;
        accept_some();
      });
      on_pause_(err);
      return;
    }
    on_client_(std::move(client));
    if (!fd_) return;  // the callback closed us
  }
  loop_.defer(this);  // more may be waiting; let the other handlers have a turn
}

}  // namespace sp
