// The relay of --mode rw, splice and auto: a Pump each way (client -> remote, remote -> client),
// run in turns on the loop's ready list so that a bulk stream waits behind the other sessions'
// turns (server/paths/turn_budget.h).
//
// Thread context: its worker's loop thread only.
#pragma once

#include <cstddef>
#include <memory>

#include "common/event_loop.h"
#include "server/paths/pump.h"
#include "server/paths/relay.h"

namespace sp {

class PumpRelay : public Relay {
 public:
  // turn_ceiling: the most bytes one direction moves per turn.
  PumpRelay(EventLoop& loop, PumpContext& pumps, PumpMode mode, size_t turn_ceiling, const RelaySockets& sockets,
            RelayOwner& owner);
  ~PumpRelay() override;

  void start(uint32_t pending_client_events) override;
  void on_events(bool client, uint32_t events) override;
  void stop() override;
  RelayTally tally() const override;

 private:
  void turn();

  EventLoop& loop_;
  PumpContext& pumps_;
  PumpMode mode_;
  size_t turn_ceiling_;
  RelaySockets sockets_;
  RelayOwner& owner_;
  std::unique_ptr<Pump> to_remote_;  // null before start() and after stop()
  std::unique_ptr<Pump> to_client_;
  ReadyTurn<PumpRelay, &PumpRelay::turn> turn_{*this};  // the relay's place on the loop's ready list
  RelayTally tally_;  // with the bytes taken from the pumps when they go (stop())
};

}  // namespace sp
