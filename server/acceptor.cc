#include "server/acceptor.h"

#include <pthread.h>

#include <cerrno>

#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"

namespace sp {
namespace {
constexpr int kAcceptsPerTurn = 64;
constexpr int64_t kPauseNs = 100 * kNsPerMs;
}  // namespace

Acceptor::Listener::Listener(Acceptor& a, Fd f, size_t i)
    : acceptor(a), fd(std::move(f)), index(i), address(local_address(fd.get())) {}

Acceptor::Acceptor(std::vector<Fd> listeners, Dispatch dispatch) : dispatch_(std::move(dispatch)) {
  for (size_t i = 0; i < listeners.size(); ++i)
    listeners_.push_back(std::make_unique<Listener>(*this, std::move(listeners[i]), i));
  thread_ = std::make_unique<LoopThread>([this](EventLoop& loop) {
    pthread_setname_np(pthread_self(), "acceptor");
    for (auto& l : listeners_) loop.add(l->fd.get(), EPOLLIN | EPOLLET, l.get());
  });
}

Acceptor::~Acceptor() { thread_->stop_and_join(); }

void Acceptor::close_listeners() {
  thread_->loop().post([this] {
    for (auto& l : listeners_) {
      if (!l->fd) continue;
      thread_->loop().remove(l->fd.get());
      l->fd.reset();
    }
  });
}

void Acceptor::accept_some(Listener& listener) {
  if (listener.paused || !listener.fd) return;
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    int err = 0;
    Fd client = accept_nonblocking(listener.fd.get(), &err);
    if (!client) {
      if (err == EAGAIN) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      // Out of fds or memory: the pending connection stays in the backlog and the edge will not
      // come again, so retry on a timer instead of spinning on a socket we cannot serve.
      listener.counters.accept_pauses.add();
      log::warn("accept on ", listener.address.to_string(), ": ", log::errno_text(err),
                "; pausing accepts for 100 ms");
      listener.paused = true;
      thread_->loop().run_after(kPauseNs, [this, &listener] {
        listener.paused = false;
        accept_some(listener);
      });
      return;
    }
    listener.counters.accepted.add();
    if (!dispatch_(std::move(client), listener.index)) listener.counters.refused.add();
  }
  thread_->loop().defer(&listener);  // more may be waiting; let the other listeners have a turn
}

}  // namespace sp
