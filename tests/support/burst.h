// Many connections opened at once and what became of each: for the tests of limits (a connection
// cap, running out of descriptors) that need a burst, not connections one after the other.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "common/fd.h"

namespace sp::test {

// n non-blocking connects to 127.0.0.1:port in a row, without waiting between them.
std::vector<Fd> connect_burst(uint16_t port, int n);

struct BurstOutcome {
  int served = 0;   // echoed the byte sent
  int closed = 0;   // closed by the other side (EOF or reset) without echoing
  int pending = 0;  // neither within the time limit
  double last_close_s = 0;  // when the last `closed` one was seen closed, from the call's start
};

// Sends one byte on each connection and waits, at most `limit` in all, for each to echo it or be
// closed. The connections stay open (the served ones keep their session).
BurstOutcome await_echo_or_close(const std::vector<Fd>& conns, std::chrono::milliseconds limit);

}  // namespace sp::test
