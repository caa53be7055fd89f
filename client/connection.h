// One tcp_ping_client connection as its LoadWorker drives it: connect, start the traffic, stop
// (finish what is in flight, close gracefully) or abort. What the kinds share is in
// connection_base.h, which the worker never needs.
//
// Thread context: its worker's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace sp::client {

class LoadWorker;

inline constexpr size_t kStreamReadSize = 256 << 10;  // one recv in stream and download modes (the worker's scratch)

class Connection {
 public:
  virtual ~Connection() = default;
  virtual void connect() = 0;
  virtual void start() = 0;
  // Stop at t: no new messages; finish what is in flight, half-close and wait for the EOF.
  virtual void stop(int64_t t) = 0;
  virtual void abort() = 0;
  // The Pacer's wake-up for a paced send due at `due`.
  virtual void on_timer(int64_t due) { (void)due; }
};

std::unique_ptr<Connection> make_ping_connection(LoadWorker& w, int id);
std::unique_ptr<Connection> make_stream_connection(LoadWorker& w, int id);

}  // namespace sp::client
