#include "server/acceptor.h"

#include <cerrno>

#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"

namespace sp {
namespace {
constexpr int kAcceptsPerTurn = 64;
constexpr int64_t kPauseNs = 100 * kNsPerMs;
}  // namespace

Acceptor::Acceptor(EventLoop& loop, std::vector<Listening> listeners, Dispatch dispatch)
    : loop_(loop), dispatch_(std::move(dispatch)) {
  for (auto& l : listeners) {
    listeners_.push_back(std::make_unique<Listener>(*this, std::move(l)));
    loop_.add(listeners_.back()->socket.fd.get(), EPOLLIN | EPOLLET, listeners_.back().get());
  }
}

Acceptor::~Acceptor() { close_listeners(); }

void Acceptor::close_listeners() {
  for (auto& l : listeners_) {
    if (!l->socket.fd) continue;
    loop_.remove(l->socket.fd.get());
    l->socket.fd.reset();
    if (l->resume_timer) loop_.cancel(l->resume_timer);
    l->resume_timer = 0;
  }
}

void Acceptor::accept_some(Listener& listener) {
  if (listener.paused || !listener.socket.fd) return;
  ListenerCounters& counters = *listener.socket.counters;
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    int err = 0;
    Fd client = accept_nonblocking(listener.socket.fd.get(), &err);
    if (!client) {
      if (err == EAGAIN) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      // Out of fds or memory: the pending connection stays in the backlog and the edge will not
      // come again, so retry on a timer instead of spinning on a socket we cannot serve.
      counters.accept_pauses.add_shared();
      log::warn("accept on ", local_address(listener.socket.fd.get()).to_string(), ": ", log::errno_text(err),
                "; pausing accepts for 100 ms");
      listener.paused = true;
      listener.resume_timer = loop_.run_after(kPauseNs, [this, &listener] {
        listener.resume_timer = 0;
        listener.paused = false;
        accept_some(listener);
      });
      return;
    }
    counters.accepted.add_shared();
    if (!dispatch_(std::move(client), listener.socket.index)) counters.refused.add_shared();
  }
  loop_.defer(&listener);  // more may be waiting; let the other listeners have a turn
}

}  // namespace sp
