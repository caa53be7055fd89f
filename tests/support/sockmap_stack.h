// A sockmap proxy whose remote end is the test's own socket, for the sockmap suites.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "tests/support/process.h"

namespace sp::test {

// The remote end of a session, accepted by the test; reads give up after 10 s instead of hanging.
Fd accept_remote(int listener);

// A one-worker sockmap proxy in front of a listener the test accepts on itself, with its stats on
// stats_port (sampled every 0.1 s) when one is given.
struct ProxyToListener {
  explicit ProxyToListener(uint16_t stats_port = 0, std::vector<std::string> extra = {});
  Fd listener;
  uint16_t port;
  std::unique_ptr<ChildProcess> proxy;
};

// One more session after a reset: the proxy still serves.
bool echoes_through(uint16_t port, int listener);

}  // namespace sp::test
