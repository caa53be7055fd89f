// Wakes paced ping-pong connections at their intended send times with a timerfd (microsecond
// precision; the loop's own timers round to milliseconds, which would skew --rate latencies).
//
// Thread context: its worker's loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <vector>

#include "common/event_loop.h"
#include "common/fd.h"

namespace sp::client {

class Connection;

class Pacer : public Handler {
 public:
  explicit Pacer(EventLoop& loop);
  void schedule(Connection* c, int64_t due);
  void on_events(uint32_t) override;

 private:
  struct Entry {
    int64_t due;
    Connection* conn;
    bool operator>(const Entry& o) const { return due > o.due; }
  };
  void arm(int64_t due);

  Fd fd_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  int64_t armed_ = std::numeric_limits<int64_t>::max();
};

}  // namespace sp::client
