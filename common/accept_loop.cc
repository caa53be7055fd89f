#include "common/accept_loop.h"

#include <cerrno>

#include "common/clock.h"
#include "common/fd_reserve.h"
#include "common/socket.h"

namespace sp {
namespace {
constexpr int kAcceptsPerTurn = 64;
constexpr int64_t kPauseNs = 100 * kNsPerMs;
}  // namespace

AcceptLoop::AcceptLoop(EventLoop& loop, Fd listening, Callbacks callbacks)
    : loop_(loop),
      fd_(std::move(listening)),
      callbacks_(std::move(callbacks)),
      report_(loop, callbacks_.name, callbacks_.reserved_verb) {
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
      if ((err == EMFILE || err == ENFILE) && callbacks_.on_reserved) {
        int again = accept_on_reserve(err);
        if (again == 0 && fd_) continue;
        if (again == 0 || again == EAGAIN) return;  // closed by the callback, or nothing waits
        if (again == EINTR || again == ECONNABORTED || again == EPROTO) continue;
      }
      pause(err);
      return;
    }
    callbacks_.on_client(std::move(client));
    if (!fd_) return;  // the callback closed us
  }
  loop_.defer(this);  // more may be waiting; let the other handlers have a turn
}

int AcceptLoop::accept_on_reserve(int err) {
  int again = 0;
  bool had_reserve = fd_reserve::use([&] {
    // EAGAIN: nothing waits (accept fails with EMFILE before it looks at the backlog).
    Fd client = accept_unguarded(fd_.get(), &again);
    if (client) callbacks_.on_reserved(std::move(client));
  });
  if (!had_reserve) return err;  // a connection on the reserve still holds its number
  if (again == 0) report_.reserved(err);
  return again;
}

void AcceptLoop::pause(int err) {
  paused_ = true;
  resume_timer_ = loop_.run_after(kPauseNs, [this] {
    resume_timer_ = 0;
    paused_ = false;
    accept_some();
  });
  report_.paused(err);
  if (callbacks_.on_pause) callbacks_.on_pause(err);
}

}  // namespace sp
