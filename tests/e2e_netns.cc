// End-to-end in a private network: scripts/netns-topology builds client ── proxy ── server
// namespaces joined by veth pairs, so the proxy has two interfaces, like a host with two NICs.
// Checks: the script (idempotent up/down, status, isolation), traffic through both proxy
// interfaces at once in both modes (sha256 of 8 MiB each way), --pin seen from /proc, and
// --reuseport spreading connections over every worker. Needs root and `ip netns`; skipped
// (with the reason) otherwise. Every test makes its own namespaces with a unique tag and removes
// them when it ends, pass or fail.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/address.h"
#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr uint16_t kProxyPort = 9998;
constexpr uint16_t kServerPort = 9999;

// The source tree, from this file's path (cmake compiles it by absolute path).
std::string script_path() {
  if (const char* s = std::getenv("SP_NETNS_TOPOLOGY")) return s;
  return (fs::path(__FILE__).parent_path().parent_path() / "scripts" / "netns-topology").string();
}

std::string ip_path() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

// Why these tests cannot run here, or "" if they can: root, ip, a namespace with a veth pair.
std::string netns_unavailable() {
  static const std::string reason = [] () -> std::string {
    if (::geteuid() != 0) return "needs root (ip netns, veth)";
    std::string ip = ip_path();
    if (ip.empty()) return "ip (iproute2) not found";
    if (::access(script_path().c_str(), X_OK) != 0) return "no executable " + script_path();
    std::string probe = "spx-probe" + std::to_string(::getpid());
    RunResult add = run({ip, "netns", "add", probe}, 10s);
    if (add.code != 0) return "ip netns add failed: " + add.err;
    RunResult veth = run({ip, "-n", probe, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1"}, 10s);
    run({ip, "netns", "del", probe}, 10s);
    if (veth.code != 0) return "veth unavailable: " + veth.err;
    return "";
  }();
  return reason;
}

#define SKIP_WITHOUT_NETNS()                                  \
  do {                                                        \
    if (std::string why = netns_unavailable(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

std::string unique_tag() {
  static std::atomic<int> n{0};
  return "e2e" + std::to_string(::getpid()) + "x" + std::to_string(n++);
}

// One topology, removed (with any process left in it) when the object goes, pass or fail.
class Topology {
 public:
  explicit Topology(std::vector<std::string> extra = {}) : tag_(unique_tag()) {
    std::vector<std::string> argv{script_path(), "up", "--tag", tag_, "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult r = run(argv, 30s);
    up_ = r.code == 0;
    if (up_) info_ = json::parse(r.out);
    else error_ = "netns-topology up: exit " + std::to_string(r.code) + ": " + r.err;
  }
  ~Topology() {
    run({script_path(), "down", "--tag", tag_, "--kill"}, 30s);
    ::unlink(stats_path().c_str());  // a proxy ended with SIGKILL leaves its socket file
  }
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  bool up() const { return up_; }
  const std::string& error() const { return error_; }
  const std::string& tag() const { return tag_; }
  const json& info() const { return info_; }
  std::string ns(const std::string& role) const { return "spx-" + tag_ + "-" + role; }
  // Addresses, as the script reports them.
  std::string client_addr() const { return info_["client"]["addr"]; }
  std::string proxy_client_side() const { return info_["proxy"]["client_side"]["addr"]; }
  std::string proxy_server_side() const { return info_["proxy"]["server_side"]["addr"]; }
  std::string server_addr() const { return info_["server"]["addr"]; }
  std::string stats_path() const { return "/tmp/spx-" + tag_ + ".stats"; }

  // argv that runs a program inside one of the namespaces (ip netns exec execs it: same PID).
  std::vector<std::string> in(const std::string& role, std::vector<std::string> argv) const {
    std::vector<std::string> out{ip_path(), "netns", "exec", ns(role)};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

 private:
  std::string tag_;
  bool up_ = false;
  std::string error_;
  json info_;
};

// Runs f on a thread that has joined the named network namespace (setns affects only the calling
// thread); sockets it creates stay in that namespace whichever thread uses them later.
template <typename F>
auto in_netns(const std::string& ns, F f) -> decltype(f()) {
  std::packaged_task<decltype(f())()> task([&] {
    int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open /run/netns/" + ns + ": " + std::strerror(errno));
    int rc = ::setns(fd, CLONE_NEWNET);
    int err = errno;
    ::close(fd);
    if (rc != 0) throw std::runtime_error("setns " + ns + ": " + std::strerror(err));
    return f();
  });
  auto result = task.get_future();
  std::thread(std::move(task)).join();
  return result.get();
}

// A blocking connection from inside `ns` to host:port, with send/receive timeouts.
Fd connect_in(const std::string& ns, const std::string& host, uint16_t port, int timeout_ms = 5000) {
  Fd fd = in_netns(ns, [&] { return connect_blocking(resolve(HostPort{host, port}, false).front(), timeout_ms); });
  timeval tv{30, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

// Polls until something accepts on host:port inside ns (bounded).
bool wait_listening(const std::string& ns, const std::string& host, uint16_t port, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      connect_in(ns, host, port, 200);
      return true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  return false;
}

// One snapshot from a unix stats socket (works across network namespaces: it is a path).
json unix_stats(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return json::object();
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  send_all(fd.get(), "stats\n", 6);
  ::shutdown(fd.get(), SHUT_WR);
  auto bytes = read_to_eof(fd.get());
  try {
    return json::parse(std::string(bytes.begin(), bytes.end()));
  } catch (const std::exception&) {
    return json::object();
  }
}

bool wait_stats(const std::string& path, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (unix_stats(path).contains("workers")) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// The echo server in the server namespace and the proxy in the proxy namespace, listening on
// both of its interfaces and forwarding to the server. Members end by PID in their destructors.
struct NetnsStack {
  NetnsStack(const Topology& t, const std::string& mode, std::vector<std::string> extra) {
    server = std::make_unique<ChildProcess>(t.in("server", {bin("tcp_ping_server"), "-s", t.server_addr(), "-p",
                                                            std::to_string(kServerPort), "-w", "1"}));
    std::vector<std::string> argv =
        with_args({bin("proxy"), "-s", t.proxy_client_side(), "-s", t.proxy_server_side(), "-p", std::to_string(kProxyPort),
                   "-r", t.server_addr(), "-c", std::to_string(kServerPort), "--mode", mode, "--stats",
                   "unix:" + t.stats_path()},
                  with_kernel_relay_mark(mode, extra));
    proxy = std::make_unique<ChildProcess>(t.in("proxy", argv));
    ready = wait_listening(t.ns("server"), t.server_addr(), kServerPort) && wait_stats(t.stats_path());
    if (!ready) diagnostics = "server: " + server->err() + "\nproxy: " + proxy->err();
  }
  std::unique_ptr<ChildProcess> server;
  std::unique_ptr<ChildProcess> proxy;
  bool ready = false;
  std::string diagnostics;
};

// Sends `data` on a connection and reads the echo at the same time; returns the echo's sha256.
std::string echo_hash(Fd fd, const std::vector<uint8_t>& data) {
  std::thread sender([&] {
    send_all(fd.get(), data.data(), data.size());
    ::shutdown(fd.get(), SHUT_WR);
  });
  bool clean = false;
  auto echoed = read_to_eof(fd.get(), &clean);
  sender.join();
  if (!clean) return "read did not end in EOF after " + std::to_string(echoed.size()) + " bytes";
  if (echoed.size() != data.size())
    return "short echo: " + std::to_string(echoed.size()) + " of " + std::to_string(data.size());
  return sha256_hex(echoed);
}

TEST(NetnsTopology, UpDownStatusIdempotentAndIsolated) {
  SKIP_WITHOUT_NETNS();
  std::string tag = unique_tag();
  const std::string s = script_path();
  struct Down {
    std::string s, tag;
    ~Down() { run({s, "down", "--tag", tag, "--kill"}, 30s); }
  } down{s, tag};

  EXPECT_EQ(run({s, "status", "--tag", tag}, 10s).code, 3) << "down before up";
  RunResult up1 = run({s, "up", "--tag", tag}, 30s);
  ASSERT_EQ(up1.code, 0) << up1.err;
  EXPECT_NE(up1.out.find("10.201.1.1"), std::string::npos) << up1.out;
  RunResult up2 = run({s, "up", "--tag", tag, "--json"}, 30s);  // again: tears down, rebuilds
  ASSERT_EQ(up2.code, 0) << up2.err;
  json info = json::parse(up2.out);
  EXPECT_EQ(info["state"], "up");
  EXPECT_EQ(info["client"]["addr"], "10.201.1.2");
  EXPECT_EQ(info["proxy"]["client_side"]["addr"], "10.201.1.1");
  EXPECT_EQ(info["proxy"]["server_side"]["addr"], "10.201.2.1");
  EXPECT_EQ(info["server"]["addr"], "10.201.2.2");
  RunResult st = run({s, "status", "--tag", tag, "--json"}, 10s);
  EXPECT_EQ(st.code, 0) << st.out << st.err;
  EXPECT_EQ(json::parse(st.out)["state"], "up");

  // exec runs inside the namespace: the client sees its own address and loopback, nothing else.
  RunResult addrs = run({s, "exec", "--tag", tag, "client", ip_path(), "-o", "-4", "addr"}, 10s);
  EXPECT_EQ(addrs.code, 0) << addrs.err;
  EXPECT_NE(addrs.out.find("10.201.1.2/24"), std::string::npos) << addrs.out;
  EXPECT_NE(addrs.out.find("127.0.0.1/8"), std::string::npos) << addrs.out;
  EXPECT_EQ(addrs.out.find("10.201.2."), std::string::npos) << addrs.out;
  // Nothing of ours in the caller's namespace.
  RunResult here = run({ip_path(), "-o", "addr"}, 10s);
  EXPECT_EQ(here.out.find("10.201.1."), std::string::npos) << here.out;
  EXPECT_EQ(here.out.find("10.201.2."), std::string::npos) << here.out;

  // No route from client to server except through a process in the proxy namespace.
  {
    ChildProcess echo({ip_path(), "netns", "exec", "spx-" + tag + "-server", bin("tcp_ping_server"), "-s",
                       "10.201.2.2", "-p", std::to_string(kServerPort), "-w", "1"});
    ASSERT_TRUE(wait_listening("spx-" + tag + "-server", "10.201.2.2", kServerPort));
    EXPECT_THROW(connect_in("spx-" + tag + "-client", "10.201.2.2", kServerPort, 1000), std::exception);
    EXPECT_NO_THROW(connect_in("spx-" + tag + "-proxy", "10.201.2.2", kServerPort, 1000));
  }

  RunResult d1 = run({s, "down", "--tag", tag}, 30s);
  EXPECT_EQ(d1.code, 0) << d1.err;
  RunResult d2 = run({s, "down", "--tag", tag}, 30s);
  EXPECT_EQ(d2.code, 0) << d2.err;
  EXPECT_EQ(run({s, "status", "--tag", tag}, 10s).code, 3);
  for (const char* role : {"client", "proxy", "server"})
    EXPECT_FALSE(fs::exists("/run/netns/spx-" + tag + "-" + role)) << role;
}

class NetnsModes : public ::testing::TestWithParam<std::string> {};

// 8 MiB each way from the client namespace to the client-facing address and, at the same time,
// from the server namespace to the server-facing address: both interfaces carry proxied traffic.
TEST_P(NetnsModes, TrafficThroughBothInterfaces) {
  SKIP_WITHOUT_NETNS();
  Topology t;
  ASSERT_TRUE(t.up()) << t.error();
  NetnsStack stack(t, GetParam(), {"-w", "2"});
  ASSERT_TRUE(stack.ready) << stack.diagnostics;

  constexpr size_t kSize = 8 << 20;
  auto a = random_bytes(kSize, 1), b = random_bytes(kSize, 2);
  Fd from_client = connect_in(t.ns("client"), t.proxy_client_side(), kProxyPort);
  Fd from_server = connect_in(t.ns("server"), t.proxy_server_side(), kProxyPort);
  auto via_a = std::async(std::launch::async, [&] { return echo_hash(std::move(from_client), a); });
  auto via_b = std::async(std::launch::async, [&] { return echo_hash(std::move(from_server), b); });
  EXPECT_EQ(via_a.get(), sha256_hex(a)) << "client ns -> " << t.proxy_client_side();
  EXPECT_EQ(via_b.get(), sha256_hex(b)) << "server ns -> " << t.proxy_server_side();

  json s = unix_stats(t.stats_path());
  ASSERT_TRUE(s.contains("listeners")) << s.dump();
  std::map<std::string, uint64_t> accepted;
  for (auto& l : s["listeners"]) accepted[l["address"]] = l["accepted"];
  EXPECT_EQ(accepted[t.proxy_client_side() + ":9998"], 1u) << s["listeners"].dump();
  EXPECT_EQ(accepted[t.proxy_server_side() + ":9998"], 1u) << s["listeners"].dump();
  EXPECT_EQ(s["mode"], GetParam());
  EXPECT_GE(s["totals"]["bytes"].get<uint64_t>(), 4 * kSize);  // two streams, each way
}

SP_INSTANTIATE_FOR_ALL_MODES(NetnsModes);

// Field 39 of /proc/PID/task/TID/stat: the CPU the thread last ran on.
int last_cpu(int pid, const std::string& tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + tid + "/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 39 && rest >> field; ++i)
    if (i == 39) return std::stoi(field);
  return -1;
}

// comm of every thread: TID -> name.
std::map<std::string, std::string> threads_of(int pid) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    std::getline(comm, name);
    out[e.path().filename().string()] = name;
  }
  return out;
}

TEST(Netns, PinnedWorkersRunOnTheirCpus) {
  SKIP_WITHOUT_NETNS();
  cpu_set_t mine;
  ASSERT_EQ(::sched_getaffinity(0, sizeof mine, &mine), 0);
  if (!CPU_ISSET(0, &mine) || !CPU_ISSET(1, &mine)) GTEST_SKIP() << "needs CPUs 0 and 1";
  Topology t;
  ASSERT_TRUE(t.up()) << t.error();
  NetnsStack stack(t, "splice", {"-w", "2", "--pin", "0,1"});
  ASSERT_TRUE(stack.ready) << stack.diagnostics;

  // Traffic on a few connections, so that both workers have run since they pinned themselves.
  auto data = random_bytes(1 << 20, 3);
  std::vector<std::future<std::string>> flows;
  for (int i = 0; i < 4; ++i)
    flows.push_back(std::async(std::launch::async, [&] {
      return echo_hash(connect_in(t.ns("client"), t.proxy_client_side(), kProxyPort), data);
    }));
  for (auto& f : flows) EXPECT_EQ(f.get(), sha256_hex(data));

  const int pid = stack.proxy->pid();
  std::map<int, std::string> workers;  // K -> TID
  for (auto& [tid, name] : threads_of(pid))
    if (name.rfind("worker-", 0) == 0) workers[std::stoi(name.substr(7))] = tid;
  ASSERT_EQ(workers.size(), 2u);
  const int pins[] = {0, 1};
  for (auto& [k, tid] : workers) {
    ASSERT_LT(k, 2);
    EXPECT_EQ(last_cpu(pid, tid), pins[k]) << "worker-" << k << " (tid " << tid << ") last ran elsewhere";
    cpu_set_t set;
    ASSERT_EQ(::sched_getaffinity(std::stoi(tid), sizeof set, &set), 0);
    EXPECT_EQ(CPU_COUNT(&set), 1) << "worker-" << k;
    EXPECT_TRUE(CPU_ISSET(pins[k], &set)) << "worker-" << k;
  }
  // The stats socket's tids are the same threads.
  json s = unix_stats(t.stats_path());
  for (auto& w : s["workers"]) EXPECT_EQ(std::to_string(w["tid"].get<int>()), workers[w["id"].get<int>()]);
}

TEST(Netns, ReuseportSpreadsConnectionsOverEveryWorker) {
  SKIP_WITHOUT_NETNS();
  Topology t;
  ASSERT_TRUE(t.up()) << t.error();
  NetnsStack stack(t, "rw", {"-w", "2", "--reuseport"});
  ASSERT_TRUE(stack.ready) << stack.diagnostics;

  // 16 connections on each interface (each one a short echo, so it is served, not just queued).
  constexpr int kPerSide = 16;
  const std::vector<uint8_t> hello = random_bytes(4096, 4);
  for (int i = 0; i < kPerSide; ++i) {
    EXPECT_EQ(echo_hash(connect_in(t.ns("client"), t.proxy_client_side(), kProxyPort), hello), sha256_hex(hello));
    EXPECT_EQ(echo_hash(connect_in(t.ns("server"), t.proxy_server_side(), kProxyPort), hello), sha256_hex(hello));
  }
  // The stats thread samples on its interval: wait (bounded) for a sample taken after the echoes.
  json s;
  auto sessions_counted = [&] {
    uint64_t n = 0;
    for (auto& w : s["workers"]) n += w["connections_total"].get<uint64_t>();
    return n;
  };
  for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;) {
    s = unix_stats(t.stats_path());
    if (s.contains("workers") && sessions_counted() >= 2u * kPerSide) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(s.contains("workers")) << s.dump();
  ASSERT_EQ(s["workers"].size(), 2u);
  uint64_t total = 0;
  for (auto& w : s["workers"]) {
    EXPECT_GT(w["connections_total"].get<uint64_t>(), 0u) << "worker " << w["id"] << " got nothing: " << s["workers"].dump();
    total += w["connections_total"].get<uint64_t>();
  }
  EXPECT_EQ(total, 2u * kPerSide);
  for (auto& th : s["threads"]) EXPECT_NE(th["name"], "acceptor") << "--reuseport runs no acceptor thread";
}

}  // namespace
}  // namespace sp::test
