// End-to-end: a remote name that does not resolve yet (a Compose or Swarm service still
// starting) does not end the proxy. It says so once, closes clients at once meanwhile (counted as
// connect failures), and serves them as soon as the name resolves.
//
// The name is made to resolve later without touching the machine's /etc/hosts: the proxy runs in
// a private mount namespace (`unshare -m`) where this test's own hosts file and an nsswitch.conf of
// "hosts: files" (no DNS: a miss is immediate) are bind-mounted over the system's. The test then
// rewrites its hosts file in place, which the bind mount shows to the proxy. Needs root.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

#include "common/payload.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char kName[] = "sp-remote-later.test";
const char kUnshare[] = "/usr/bin/unshare";  // util-linux, in every Debian

// Why the test cannot run here, or "" if it can.
std::string resolver_unavailable() {
  if (::geteuid() != 0) return "needs root (unshare -m, mount --bind)";
  if (::access(kUnshare, X_OK) != 0) return std::string("no ") + kUnshare;
  if (run({kUnshare, "-m", "/bin/true"}, 10s).code != 0) return "unshare -m refused here";
  return "";
}

// A directory with the hosts and nsswitch.conf files the proxy's namespace sees.
struct Resolver {
  Resolver() {
    dir = std::filesystem::temp_directory_path() / ("sp-resolve-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    write_hosts("127.0.0.1 localhost\n");
    std::ofstream(dir / "nsswitch.conf") << "hosts: files\n";
  }
  ~Resolver() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // In place (truncate and write), never a rename: the bind mount holds the file's inode.
  void write_hosts(const std::string& text) {
    std::ofstream out(dir / "hosts", std::ios::trunc);
    out << text;
  }
  std::string mount_prefix() const {
    return "mount --bind " + (dir / "hosts").string() + " /etc/hosts && mount --bind " +
           (dir / "nsswitch.conf").string() + " /etc/nsswitch.conf && exec ";
  }
  std::filesystem::path dir;
};

// One ping through the proxy: true when it came back intact, false when the proxy closed us;
// *why says how it failed, for the failure message.
bool ping(uint16_t port, std::chrono::milliseconds* took = nullptr, std::string* why = nullptr) {
  auto start = Clock::now();
  bool ok = false;
  std::string reason;
  try {
    Fd fd = connect_to(port, 5s);
    std::vector<uint8_t> msg(64), got(64);
    PayloadPattern().fill(0, msg.data(), msg.size());
    errno = 0;  // read_exact leaves it alone at EOF
    if (!send_all(fd.get(), msg.data(), msg.size())) reason = "send: " + std::string(strerror(errno));
    else if (!read_exact(fd.get(), got.data(), got.size())) reason = "read: " + std::string(errno ? strerror(errno) : "EOF");
    else if (got != msg) reason = "the echo differs";
    else ok = true;
  } catch (const std::system_error& e) {
    // The proxy's reset can beat the connect's completion on loopback: closed, as promptly.
    reason = e.what();
  }
  if (took) *took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (why) *why = reason;
  return ok;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ResolveE2E, UnresolvedRemoteNameKeepsTheProxyUpAndIsUsedOnceItResolves) {
  if (std::string why = resolver_unavailable(); !why.empty()) GTEST_SKIP() << why;
  Resolver resolver;
  uint16_t server_port = free_port();
  uint16_t port = free_port();
  uint16_t stats = free_port();
  std::string proxy_cmd = bin("proxy") + " -s 127.0.0.1 -p " + std::to_string(port) + " -r " + kName + " -c " +
                          std::to_string(server_port) + " -w 2 --stats 127.0.0.1:" + std::to_string(stats);
  ChildProcess proxy({kUnshare, "-m", "/bin/sh", "-c", resolver.mount_prefix() + proxy_cmd});
  ASSERT_TRUE(wait_for_port(port)) << "the proxy must start although its remote does not resolve: " << proxy.err();
  ChildProcess server({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(server_port), "-w", "1"});
  ASSERT_TRUE(wait_for_port(server_port));

  // Unresolved: each client is closed at once, the proxy keeps running.
  const int kClients = 10;
  for (int i = 0; i < kClients; ++i) {
    std::chrono::milliseconds took{};
    EXPECT_FALSE(ping(port, &took)) << "served before the name resolves?";
    EXPECT_LT(took, 1s) << "a client must be closed at once while the name does not resolve";
  }
  std::this_thread::sleep_for(300ms);  // a few retries of the backoff
  ASSERT_TRUE(proxy.running()) << proxy.err();
  auto snap = stats_snapshot(stats);
  ASSERT_FALSE(snap.empty());
  int64_t failed = 0;
  for (const auto& w : snap["workers"]) failed += w["counters"]["connect_failed"].get<int64_t>();
  EXPECT_GE(failed, kClients) << "each closed client counts as a failed connect";
  std::string log = proxy.err();
  EXPECT_EQ(count(log, std::string("cannot resolve '") + kName + "'"), 1u) << "said once, naming the host: " << log;
  EXPECT_NE(log.find("retrying in the background"), std::string::npos) << log;

  // The name appears: served within the backoff's ceiling (5 s) and then some.
  resolver.write_hosts(std::string("127.0.0.1 localhost\n127.0.0.1 ") + kName + "\n");
  auto appeared = Clock::now();
  bool served = false;
  std::string why;
  while (!served && Clock::now() - appeared < 10s) {
    served = ping(port, nullptr, &why);
    if (!served) std::this_thread::sleep_for(100ms);
  }
  // Seen once in CI (not reproduced in 60 runs, 40 of them beside two busy loops): each ping
  // failed at once, and the proxy logged no failed connect. What is needed to tell who closed.
  EXPECT_TRUE(served) << "not served 10 s after the name resolved; the last ping: " << why
                      << "\nthe server is " << (server.running() ? "running" : "gone") << ": " << server.err()
                      << "\nthe proxy's counters: " << stats_snapshot(stats).dump() << "\nits log: " << proxy.err();
  EXPECT_LT(Clock::now() - appeared, 7s);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ping(port));
  EXPECT_NE(proxy.err().find(std::string("'") + kName + "' resolves now: 127.0.0.1:" + std::to_string(server_port)),
            std::string::npos)
      << proxy.err();
  proxy.signal(SIGTERM);
  EXPECT_EQ(proxy.wait(10s), std::optional<int>(0));
}

TEST(ResolveE2E, InvalidNumericRemoteFailsAtStart) {
  // Digits and dots are an address, not a name to wait for: bad input, exit 2.
  auto r = run({bin("proxy"), "-s", "127.0.0.1", "-p", std::to_string(free_port()), "-r", "999.1.1.1",
                "--stats", "off"},
               10s);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("invalid IPv4 address '999.1.1.1'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sp::test
