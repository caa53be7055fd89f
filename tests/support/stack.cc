#include "tests/support/stack.h"

#include <stdexcept>

#include "tests/support/modes.h"

namespace sp::test {

std::unique_ptr<ChildProcess> start_proxy(uint16_t listen_port, uint16_t remote_port, const std::string& mode,
                                          std::vector<std::string> extra) {
  std::vector<std::string> argv = with_args({bin("proxy"), "-s", "127.0.0.1", "-p", std::to_string(listen_port),
                                              "-r", "127.0.0.1", "-c", std::to_string(remote_port),
                                              "--mode", mode, "-w", "2", "--stats", "off"},
                                             with_kernel_relay_mark(mode, std::move(extra)));
  auto proxy = std::make_unique<ChildProcess>(argv);
  if (!wait_for_port(listen_port)) throw std::runtime_error("proxy did not start: " + proxy->err());
  return proxy;
}

ProxyStack::ProxyStack(const std::string& mode, std::vector<std::string> extra_proxy_args,
                       std::vector<std::string> server_args) {
  server_port = free_port();
  std::vector<std::string> sargv =
      with_args({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(server_port)}, server_args);
  server = std::make_unique<ChildProcess>(sargv);
  if (!wait_for_port(server_port)) throw std::runtime_error("tcp_ping_server did not start: " + server->err());
  proxy_port = free_port();
  proxy = start_proxy(proxy_port, server_port, mode, std::move(extra_proxy_args));
}

RefusedSyscallStack::RefusedSyscallStack(const std::string& syscall, const std::string& mode)
    : server_port(free_port()), proxy_port(free_port()), stats_port(free_port()) {
  server = std::make_unique<ChildProcess>(std::vector<std::string>{
      bin("tcp_ping_server"), "-s", "127.0.0.1:" + std::to_string(server_port), "-w", "1", "--stats", "off"});
  if (!wait_for_port(server_port)) throw std::runtime_error("tcp_ping_server did not start: " + server->err());
  proxy = std::make_unique<ChildProcess>(std::vector<std::string>{
      bin("refuse_syscall"), syscall, bin("proxy"), "-s", "127.0.0.1:" + std::to_string(proxy_port), "-r",
      "127.0.0.1:" + std::to_string(server_port), "--mode", mode, "-w", "2", "--stats-interval", "0.1", "--stats",
      "127.0.0.1:" + std::to_string(stats_port)});
  if (!wait_for_port(proxy_port) || !wait_for_port(stats_port))
    throw std::runtime_error("proxy did not start: " + proxy->err());
}

}  // namespace sp::test
