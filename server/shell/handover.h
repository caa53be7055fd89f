// A restart that drops nothing (--handover PATH). The running proxy listens on a unix socket at
// PATH; a new proxy started with the same flag connects there first and is sent the listening
// sockets themselves (SCM_RIGHTS), so that connections queued in their backlogs stay queued: the
// new process accepts them. Once the new one says it has them, the old one stops accepting,
// gives PATH up and drains its sessions as on SIGTERM; the new one then listens on PATH for the
// next restart. With nobody at PATH, the new proxy binds as usual.
//
//   new -> old   "takeover <pid>\n"
//   old -> new   "listeners <n>\n" with the n descriptors attached
//   new          builds its server on them and starts accepting (both accept for a moment)
//   new -> old   "taken\n"
//   old          stops accepting, unlinks PATH, closes the connection (the new one waits for that)
// A new proxy that fails before "taken" leaves the old one serving as before.
//
// Thread context: the program's main thread (the loop of serve_until_signalled).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/fd.h"

namespace sp {

struct Takeover {
  Fd connection;          // to the old proxy; empty when nobody listened at the path
  std::vector<Fd> listeners;
};
// The listening sockets of the proxy at `path`, or none when nobody listens there (a first start:
// no file, or a stale one). Throws std::runtime_error naming the step when one answers but the
// exchange fails (the old proxy then keeps serving).
Takeover take_listeners_over(const std::string& path);
// Once this proxy accepts on them: tells the old one, and waits until it has given the path up.
void confirm_takeover(Takeover& takeover);

class HandoverPoint : public Handler {
 public:
  using Listening = std::function<std::vector<int>()>;   // the descriptors to hand over
  using HandedOver = std::function<void(int new_pid)>;  // stop accepting and drain
  // Binds `path` (replacing a stale socket file; throws std::system_error naming it).
  HandoverPoint(EventLoop& loop, std::string path, Listening listening, HandedOver handed_over);
  ~HandoverPoint() override;
  HandoverPoint(const HandoverPoint&) = delete;
  HandoverPoint& operator=(const HandoverPoint&) = delete;
  void on_events(uint32_t events) override;

 private:
  void give_up_path();

  EventLoop& loop_;
  std::string path_;
  Listening listening_;
  HandedOver handed_over_;
  Fd listener_;
};

}  // namespace sp
