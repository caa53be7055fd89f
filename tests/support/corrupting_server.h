// A deliberately faulty echo server for integrity tests: it echoes faithfully until a connection
// has carried `after` bytes, then commits one fault (on every connection). Loopback only; each
// connection is served by a blocking thread. The destructor stops and joins everything.
#pragma once

#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/fd.h"

namespace sp::test {

class CorruptingServer {
 public:
  enum class Fault {
    kFlipByte,    // byte number `after` of the echo has its low bit flipped
    kDropByte,    // byte number `after` is left out of the echo
    kCloseAfter,  // echo `after` bytes, then FIN (reading on): the client gets a short read
    kResetAfter,  // echo `after` bytes, then reset (RST)
  };

  CorruptingServer(Fault fault, uint64_t after);
  ~CorruptingServer();
  CorruptingServer(const CorruptingServer&) = delete;
  CorruptingServer& operator=(const CorruptingServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  void accept_loop();
  void serve(int fd);
  bool wait_readable(int fd);  // false when stopping

  Fault fault_;
  uint64_t after_;
  Fd listener_;
  Fd stop_read_;
  Fd stop_write_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<int> live_fds_;           // guarded by mu_: shut down on stop
  std::vector<std::thread> sessions_;   // guarded by mu_
  std::thread acceptor_;
};

}  // namespace sp::test
