#include "server/paths/pump_relay.h"

#include <sys/epoll.h>

#include "server/paths/turn_budget.h"

namespace sp {

PumpRelay::PumpRelay(EventLoop& loop, PumpContext& pumps, PumpMode mode, size_t turn_ceiling,
                     const RelaySockets& sockets, RelayOwner& owner)
    : loop_(loop), pumps_(pumps), mode_(mode), turn_ceiling_(turn_ceiling), sockets_(sockets), owner_(owner) {
  tally_.mode = to_string(mode);
  tally_.bytes_known = true;
}

PumpRelay::~PumpRelay() = default;

void PumpRelay::start(uint32_t pending_client_events) {
  to_remote_ = std::make_unique<Pump>(sockets_.client, sockets_.remote, mode_, pumps_, pumps_.counters.bytes_in);
  to_client_ = std::make_unique<Pump>(sockets_.remote, sockets_.client, mode_, pumps_, pumps_.counters.bytes_out);
  // The remote's first edge carried EPOLLOUT, possibly EPOLLIN too (a server that speaks first):
  // look at both, and replay what the client did while we were connecting.
  to_client_->source_events(EPOLLIN);
  to_remote_->source_events(pending_client_events | EPOLLIN);
  turn();
}

void PumpRelay::on_events(bool client, uint32_t events) {
  if (!to_remote_) return;
  if (client) {
    to_remote_->source_events(events);
    if (events & EPOLLOUT) to_client_->destination_writable();
  } else {
    to_client_->source_events(events);
    if (events & EPOLLOUT) to_remote_->destination_writable();
  }
  // Not turn() here: a session whose edges keep coming (a bulk stream) gets one turn per round
  // like every other, not one per event. A session already queued for more work keeps its place;
  // one that was not (its last turn finished what it had: a ping-pong) joins the fresh list, so its
  // message waits for no bulk turn queued before it.
  loop_.defer_fresh(&turn_);
}

void PumpRelay::turn() {
  if (!to_remote_) return;
  owner_.relay_activity();
  size_t budget = turn_budget(loop_.ready_count(), turn_ceiling_);
  Pump::Status up = to_remote_->run(budget);
  Pump::Status down = to_client_->run(budget);
  // Up reads the client and writes the remote; down the other way round.
  if (tally_.first_eof == RelaySide::kUnknown) {
    if (to_remote_->finished()) tally_.first_eof = RelaySide::kClient;
    else if (to_client_->finished()) tally_.first_eof = RelaySide::kRemote;
  }
  if (up == Pump::Status::kFailed || down == Pump::Status::kFailed) {
    pumps_.counters.resets.add();
    bool up_failed = up == Pump::Status::kFailed;
    Pump& failed = up_failed ? *to_remote_ : *to_client_;
    tally_.failed = failed.failed_at_source() == up_failed ? RelaySide::kClient : RelaySide::kRemote;
    owner_.relay_finished(failed.error());
    return;
  }
  if (to_remote_->finished() && to_client_->finished()) {
    owner_.relay_finished(0);
    return;
  }
  if (up == Pump::Status::kMoreWork || down == Pump::Status::kMoreWork) loop_.defer(&turn_);
}

void PumpRelay::stop() {
  loop_.remove(sockets_.client);
  loop_.remove(sockets_.remote);
  tally_ = tally();
  to_remote_.reset();  // pumps give their pipes and buffers back before the sockets close
  to_client_.reset();
  owner_.relay_stopped();
}

RelayTally PumpRelay::tally() const {
  RelayTally t = tally_;
  if (to_remote_) t.to_remote = to_remote_->bytes(), t.to_client = to_client_->bytes();
  return t;
}

}  // namespace sp
