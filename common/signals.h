// Signals as events: SIGINT/SIGTERM arrive through a signalfd on an EventLoop, never as
// asynchronous handlers, so shutdown logic runs on a normal thread with no restrictions.
#pragma once

#include <functional>
#include <initializer_list>

#include "common/event_loop.h"
#include "common/fd.h"

namespace sp {

// Blocks the given signals in the calling thread (call in main() before starting threads, which
// inherit the mask) and ignores SIGPIPE, which a write to a reset socket would otherwise raise.
void block_signals(std::initializer_list<int> signals);

class SignalWatcher : public Handler {
 public:
  // Loop thread only. The signals must already be blocked (block_signals).
  SignalWatcher(EventLoop& loop, std::initializer_list<int> signals, std::function<void(int)> on_signal);
  ~SignalWatcher() override;
  void on_events(uint32_t events) override;

 private:
  EventLoop& loop_;
  Fd fd_;
  std::function<void(int)> on_signal_;
};

}  // namespace sp
