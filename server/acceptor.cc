#include "server/acceptor.h"

#include "common/log.h"
#include "common/socket.h"

namespace sp {

Acceptor::Acceptor(EventLoop& loop, std::vector<Listening> listeners, Dispatch dispatch)
    : dispatch_(std::move(dispatch)) {
  for (auto& l : listeners) {
    size_t index = l.index;
    metrics::ListenerCounters* counters = l.counters;
    std::string where = local_address(l.fd.get()).to_string();
    loops_.push_back(std::make_unique<AcceptLoop>(
        loop, std::move(l.fd),
        [this, index, counters](Fd client) {
          counters->accepted.add_shared();
          if (!dispatch_(std::move(client), index)) counters->refused.add_shared();
        },
        [counters, where](int err) {
          counters->accept_pauses.add_shared();
          log::warn("accept on ", where, ": ", log::errno_text(err), "; pausing accepts for 100 ms");
        }));
  }
}

void Acceptor::close_listeners() {
  for (auto& l : loops_) l->close();
}

}  // namespace sp
