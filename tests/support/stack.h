// An echo server and a proxy in front of it, both real binaries on ephemeral loopback ports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/net.h"
#include "tests/support/process.h"

namespace sp::test {

struct ProxyStack {
  // mode: a --mode value (tests/support/modes.h). extra_proxy_args are appended to the proxy's command line.
  explicit ProxyStack(const std::string& mode, std::vector<std::string> extra_proxy_args = {},
                      std::vector<std::string> server_args = {"-w", "1"});
  uint16_t server_port = 0;
  uint16_t proxy_port = 0;
  std::unique_ptr<ChildProcess> server;
  std::unique_ptr<ChildProcess> proxy;
};

// A proxy in `mode` started under tests/support/refuse_syscall, so that the kernel refuses
// `syscall` with EPERM as a seccomp profile would, in front of an echo server; 2 workers, stats
// every 0.1 s on stats_port. For the fallback tests of the modes that need a kernel facility.
struct RefusedSyscallStack {
  RefusedSyscallStack(const std::string& syscall, const std::string& mode);
  uint16_t server_port = 0;
  uint16_t proxy_port = 0;
  uint16_t stats_port = 0;
  std::unique_ptr<ChildProcess> server;
  std::unique_ptr<ChildProcess> proxy;
};

// Starts a proxy alone (to a remote that may not exist); waits until it listens.
std::unique_ptr<ChildProcess> start_proxy(uint16_t listen_port, uint16_t remote_port, const std::string& mode,
                                          std::vector<std::string> extra = {});

}  // namespace sp::test
