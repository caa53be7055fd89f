// One tcp_ping_client thread: its own EventLoop, a share of the connections, and what they
// measured. The coordinator (runner.cc) drives it with posted tasks and hears back through the
// Coordinator interface.
//
// Thread context: the public methods below marked "loop thread" must run on the worker's loop
// (the coordinator post()s them); Coordinator methods are called on the worker's thread.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "client/message.h"
#include "client/options.h"
#include "client/report.h"
#include "common/address.h"
#include "common/event_loop.h"
#include "common/payload.h"

namespace sp::client {

// When the run starts and which part of it is measured (monotonic ns).
struct Timeline {
  int64_t start_ns = 0;          // traffic begins
  int64_t measure_start_ns = 0;  // start_ns + warmup
  int64_t measure_end_ns = std::numeric_limits<int64_t>::max();
};

class Coordinator {
 public:
  virtual ~Coordinator() = default;
  // Every connection of the worker is connected or has failed.
  virtual void worker_connected(int worker) = 0;
  // Every connection of the worker is closed. finish_ns: when its measured work ended.
  virtual void worker_finished(int worker, int64_t finish_ns, std::shared_ptr<Sample> total, std::string first_error) = 0;
  virtual void worker_snapshot(int worker, int interval, std::shared_ptr<Sample> sample) = 0;
};

class Connection;
class Pacer;

class LoadWorker {
 public:
  LoadWorker(const Options& options, const SocketAddress& server, int index, Coordinator& coordinator);
  ~LoadWorker();
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  void post(EventLoop::Task task) { thread_.loop().post(std::move(task)); }

  // Loop thread: the coordinator's commands.
  void connect(const std::vector<int>& connection_ids);
  void start(const Timeline& timeline);
  void stop(int64_t end_ns);  // stop measuring at end_ns; finish in-flight work and close gracefully
  void abort();               // close every connection now
  void snapshot(int interval);

  // Loop thread: services for the connections.
  EventLoop& loop() { return thread_.loop(); }
  const Options& options() const { return options_; }
  const SocketAddress& server() const { return server_; }
  const std::string& server_text() const { return server_text_; }
  const PayloadPattern& pattern() const { return pattern_; }
  const MessageFormat& format() const { return format_; }
  PatternCache& download_pattern() { return download_pattern_; }
  const Timeline& timeline() const { return timeline_; }
  Pacer& pacer() { return *pacer_; }
  uint8_t* tx_scratch() { return tx_scratch_.data(); }
  uint8_t* rx_scratch() { return rx_scratch_.data(); }
  size_t rx_scratch_size() const { return rx_scratch_.size(); }

  bool measuring(int64_t t) const { return started_ && t >= timeline_.measure_start_ns && t < timeline_.measure_end_ns; }
  bool record_ping(int64_t t, int64_t latency_ns);  // true when counted (inside the measured window)
  void record_sent(int64_t t, uint64_t bytes, uint64_t messages);
  void record_received(int64_t t, uint64_t bytes, uint64_t messages);
  void record_error(ErrorKind kind, const std::string& text);
  // A connection's longest time with a message in flight and no byte moved (pingpong), at its end.
  void record_longest_gap(int64_t gap_ns);

  void connection_resolved(bool connected);
  void connection_closed(int64_t done_ns);

 private:
  void maybe_finish();
  void record_bytes(int64_t t, uint64_t Sample::*direction, uint64_t bytes, uint64_t messages);

  const Options& options_;
  SocketAddress server_;
  std::string server_text_;
  int index_;
  Coordinator& coordinator_;
  PayloadPattern pattern_;
  MessageFormat format_;
  PatternCache download_pattern_;

  std::vector<std::unique_ptr<Connection>> connections_;
  std::unique_ptr<Pacer> pacer_;
  std::vector<uint8_t> tx_scratch_;
  std::vector<uint8_t> rx_scratch_;
  int unresolved_ = 0;  // still connecting
  int live_ = 0;        // connected and not yet closed
  Timeline timeline_;
  bool started_ = false;
  bool reported_ = false;
  int64_t finish_ns_ = 0;
  Sample total_;
  Sample interval_;
  std::string first_error_;

  LoopThread thread_;  // last: starts after, and is joined before, everything above
};

}  // namespace sp::client
