// proxy-top's link to the stats socket: connects (TCP or unix:), asks for `watch MS`, and hands
// each snapshot line to its owner. When the socket cannot be reached or goes away it says why and
// tries again with a bounded backoff (250 ms doubling to --retry-max), for as long as it runs.
//
// Thread context: one EventLoop thread; construct, start() and destroy there.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/stats_server.h"

namespace sp::top {

class StatsFeed final : public Handler {
 public:
  struct Callbacks {
    std::function<void(const std::string& line)> on_snapshot;  // one JSON snapshot, without "\n"
    // The link changed: connected, or lost with the reason and the delay before the next try.
    std::function<void(bool connected, const std::string& status)> on_status;
  };
  StatsFeed(EventLoop& loop, metrics::StatsEndpoint where, int64_t watch_ms, int64_t retry_max_ns, Callbacks callbacks);
  ~StatsFeed() override;
  StatsFeed(const StatsFeed&) = delete;
  StatsFeed& operator=(const StatsFeed&) = delete;

  void start();
  const std::string& where() const { return where_text_; }
  void on_events(uint32_t events) override;
  void on_ready() override {
    if (fd_ && !connecting_) read_some();
  }

 private:
  void connect();
  void connected();
  void read_some();
  void lost(const std::string& why);

  EventLoop& loop_;
  metrics::StatsEndpoint where_;
  std::string where_text_;
  int64_t watch_ms_;
  int64_t retry_max_ns_;
  int64_t backoff_ns_;
  Callbacks callbacks_;
  Fd fd_;
  bool connecting_ = false;
  std::string partial_;
  EventLoop::TimerId retry_timer_ = 0;
};

// A snapshot line longer than this means something other than the stats socket is talking.
inline constexpr size_t kMaxSnapshotLine = 16 << 20;

}  // namespace sp::top
