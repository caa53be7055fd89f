// End-to-end: --handover, a restart that drops nothing, in every mode. While 64 connections
// ping-pong through the proxy (every answer checked) and 100 new connections a second each echo
// 1 KiB and close, the proxy is restarted 20 times: each new process takes the listening socket
// over from the running one, which drains and exits. Not one connection may be refused, reset or
// answered wrongly, and every old process must be gone once its sessions ended.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/client_run.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool wait_for_text(ChildProcess& p, const std::string& text, std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (p.err().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

class RestartE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(RestartE2E, TwentyRestartsUnderLoadLoseNoConnection) {
  uint16_t server_port = free_port(), port = free_port();
  ChildProcess server({bin("tcp_ping_server"), "-s", "127.0.0.1:" + std::to_string(server_port), "-w", "1",
                       "--stats", "off"});
  ASSERT_TRUE(wait_for_port(server_port)) << server.err();
  std::string handover = "/tmp/sp-e2e-handover-" + std::to_string(::getpid()) + "-" + std::to_string(port) + ".sock";
  std::vector<std::string> argv = {bin("proxy"), "-s", "127.0.0.1:" + std::to_string(port), "-r",
                                   "127.0.0.1:" + std::to_string(server_port), "--mode", GetParam(), "-w", "2",
                                   "--stats", "off", "--grace", "30", "--handover", handover, "-v"};
  argv = with_args(argv, with_kernel_relay_mark(GetParam(), {}));
  std::vector<std::unique_ptr<ChildProcess>> proxies;
  proxies.push_back(std::make_unique<ChildProcess>(argv));
  ASSERT_TRUE(wait_for_port(port)) << proxies.back()->err();

  // The steady load: 64 connections for the whole run (they stay on the first proxy, which keeps
  // serving them while it drains).
  ClientRun steady;
  std::thread steady_thread([&] { steady = client(port, {"-c", "64", "-t", "10"}, 60s); });
  // The bursts: 10 new connections every 100 ms, each echoing 1 KiB, until the restarts are done.
  std::atomic<bool> restarting{true};
  std::atomic<int> burst_ok{0}, burst_failed{0};
  std::string first_failure;  // the bursts thread's, read after it joined
  std::thread bursts([&] {
    while (restarting.load()) {
      auto next = Clock::now() + 100ms;
      for (int i = 0; i < 10; ++i) {
        bool ok = false;
        try {
          ok = echoes(port, 1024);
        } catch (const std::exception& e) {  // a refused connect
          if (burst_failed.load() == 0) first_failure = e.what();
        }
        (ok ? burst_ok : burst_failed)++;
      }
      std::this_thread::sleep_until(next);
    }
  });
  std::this_thread::sleep_for(500ms);
  int restarts = 0;
  for (; restarts < 20; ++restarts) {
    ChildProcess& old = *proxies.back();
    proxies.push_back(std::make_unique<ChildProcess>(argv));
    if (!wait_for_text(old, "handed the listeners over to pid " + std::to_string(proxies.back()->pid()), 5s)) {
      ADD_FAILURE() << "restart " << restarts + 1 << ": no handover\nold: " << old.err()
                    << "\nnew: " << proxies.back()->err();
      break;
    }
    std::this_thread::sleep_for(350ms);
  }
  restarting = false;
  bursts.join();
  steady_thread.join();
  EXPECT_EQ(restarts, 20);
  EXPECT_EQ(burst_failed.load(), 0) << "of " << burst_ok.load() + burst_failed.load() << " burst connections; first: "
                                    << first_failure;
  EXPECT_GT(burst_ok.load(), 500);
  expect_clean(steady);
  // Every old proxy drained and left (the first one once the steady load ended).
  for (size_t i = 0; i + 1 < proxies.size(); ++i) {
    auto code = proxies[i]->wait(10s);
    EXPECT_TRUE(code.has_value()) << "proxy " << i << " still running:\n" << proxies[i]->err();
    if (code) {
      EXPECT_EQ(*code, 0) << proxies[i]->err();
    }
  }
  EXPECT_NE(proxies.back()->err().find("took 1 listening sockets over"), std::string::npos) << proxies.back()->err();
}

SP_INSTANTIATE_FOR_ALL_MODES(RestartE2E);

}  // namespace
}  // namespace sp::test
