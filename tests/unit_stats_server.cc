// The stats thread in-process, against a fake worker that bumps its counters while the stats
// thread reads them (what TSan checks): the protocol over TCP and Unix sockets, the limits, the
// log, and that every connection's descriptor is given back.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/socket.h"
#include "metrics/proc.h"
#include "metrics/stats_server.h"
#include "tests/support/fake_program.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace sp::metrics {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

StatsOptions tcp_options() {
  StatsOptions o;
  o.where = "127.0.0.1:0";
  o.interval_ns = 100'000'000;
  return o;
}

uint16_t port_of(const StatsServer& s) { return parse_host_port(s.address(), 0).port; }

// Reads until EOF, an error, or the timeout. *ended: the connection ended (EOF or reset).
std::string read_until_end(int fd, std::chrono::milliseconds timeout, bool* ended = nullptr) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  if (ended) *ended = false;
  char buf[65536];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (ended) *ended = true;
    break;
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void send_text(int fd, std::string_view text) { ASSERT_TRUE(test::send_all(fd, text.data(), text.size())); }

// The stats thread briefly opens /proc files while it samples, so one reading may be one or two
// too high: the smallest of a few readings is the real count.
int count_open_fds() {
  int least = test::open_fds(static_cast<int>(::getpid()));
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(3ms);
    least = std::min(least, test::open_fds(static_cast<int>(::getpid())));
  }
  return least;
}

// Waits until the process has no more than `expected` descriptors open (they close asynchronously).
bool fds_return_to(int expected, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (count_open_fds() <= expected) return true;
    std::this_thread::sleep_for(20ms);
  }
  return count_open_fds() <= expected;
}

TEST(StatsEndpoint, Parses) {
  EXPECT_EQ(parse_stats_endpoint("off").kind, StatsEndpoint::Kind::kOff);
  auto tcp = parse_stats_endpoint("127.0.0.1:9997");
  EXPECT_EQ(tcp.kind, StatsEndpoint::Kind::kTcp);
  EXPECT_EQ(tcp.tcp.to_string(), "127.0.0.1:9997");
  EXPECT_EQ(parse_stats_endpoint("9000").tcp.to_string(), "127.0.0.1:9000");
  EXPECT_EQ(parse_stats_endpoint(":9001").tcp.to_string(), "127.0.0.1:9001");
  EXPECT_EQ(parse_stats_endpoint("[::1]:9002").tcp.to_string(), "[::1]:9002");
  EXPECT_EQ(parse_stats_endpoint("localhost").tcp.port, kDefaultStatsPort);
  auto unix_socket = parse_stats_endpoint("unix:/tmp/x.sock");
  EXPECT_EQ(unix_socket.kind, StatsEndpoint::Kind::kUnix);
  EXPECT_EQ(unix_socket.path, "/tmp/x.sock");
  EXPECT_THROW(parse_stats_endpoint("unix:"), std::invalid_argument);
  EXPECT_THROW(parse_stats_endpoint("unix:/" + std::string(200, 'a')), std::invalid_argument);
  EXPECT_THROW(parse_stats_endpoint("127.0.0.1:99999"), std::invalid_argument);
}

TEST(StatsServer, SilenceOrEofGetsOneSnapshot) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  ASSERT_FALSE(server.address().empty());
  {
    Fd fd = test::connect_to(port_of(server));
    auto start = Clock::now();
    bool ended = false;
    std::string text = read_until_end(fd.get(), 5s, &ended);
    EXPECT_TRUE(ended);
    EXPECT_GE(Clock::now() - start, 100ms);  // the first-command wait
    auto lines = split_lines(text);
    ASSERT_EQ(lines.size(), 1u) << text;
    json j = json::parse(lines[0]);
    EXPECT_EQ(j["version"], 1);
    EXPECT_EQ(j["program"], "fake");
    ASSERT_EQ(j["workers"].size(), 1u);
    EXPECT_GT(j["workers"][0]["counters"]["bytes_in"].get<uint64_t>(), 0u);
    ASSERT_EQ(j["threads"].size(), 2u);
    EXPECT_EQ(j["threads"][1]["name"], "stats");
    EXPECT_EQ(j["threads"][1]["tid"], server.tid());
  }
  {
    Fd fd = test::connect_to(port_of(server));
    ::shutdown(fd.get(), SHUT_WR);
    auto start = Clock::now();
    std::string text = read_until_end(fd.get(), 5s);
    EXPECT_LT(Clock::now() - start, 2s);
    EXPECT_EQ(json::parse(split_lines(text).at(0))["version"], 1);
  }
}

TEST(StatsServer, SeveralCommandsOnOneConnection) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  Fd fd = test::connect_to(port_of(server));
  send_text(fd.get(), "stats\r\nhelp\n\nschema\nbogus\nstats");  // the last without a newline
  ::shutdown(fd.get(), SHUT_WR);
  bool ended = false;
  auto lines = split_lines(read_until_end(fd.get(), 5s, &ended));
  EXPECT_TRUE(ended);
  std::vector<json> replies;
  bool saw_help = false;
  for (auto& line : lines) {
    if (line.rfind("Commands, one per line:", 0) == 0) saw_help = true;
    if (!line.empty() && line[0] == '{') replies.push_back(json::parse(line));
  }
  EXPECT_TRUE(saw_help);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_TRUE(replies[0].contains("workers"));
  EXPECT_TRUE(replies[1].contains("metrics"));
  EXPECT_TRUE(replies[2].contains("error"));
  EXPECT_TRUE(replies[3].contains("workers"));
}

TEST(StatsServer, WatchStreamsUntilTheClientCloses) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  Fd fd = test::connect_to(port_of(server));
  send_text(fd.get(), "watch 50\n");
  ::shutdown(fd.get(), SHUT_WR);  // a half-closed watcher still gets its stream
  std::string text = read_until_end(fd.get(), 600ms);
  auto lines = split_lines(text);
  EXPECT_GE(lines.size(), 5u) << text.size();
  double last_uptime = -1;
  uint64_t last_bytes = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {  // the last may be cut short
    json j = json::parse(lines[i]);
    EXPECT_GT(j["uptime_s"].get<double>(), last_uptime);
    EXPECT_GE(j["totals"]["bytes"].get<uint64_t>(), last_bytes);
    last_uptime = j["uptime_s"];
    last_bytes = j["totals"]["bytes"];
  }
  EXPECT_GT(last_bytes, 0u);
}

TEST(StatsServer, RatesAppearAfterAnInterval) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  std::this_thread::sleep_for(350ms);
  Fd fd = test::connect_to(port_of(server));
  send_text(fd.get(), "stats\n");
  ::shutdown(fd.get(), SHUT_WR);
  json j = json::parse(split_lines(read_until_end(fd.get(), 5s)).at(0));
  EXPECT_GT(j["window_s"].get<double>(), 0.0);  // one interval, give or take a late tick
  EXPECT_LT(j["window_s"].get<double>(), 1.0);
  EXPECT_GT(j["workers"][0]["bytes_per_s"].get<double>(), 0);
  EXPECT_GT(j["totals"]["bytes_per_s_avg"].get<double>(), 0);
  EXPECT_EQ(j["totals"]["bytes"], j["workers"][0]["bytes"]);
  EXPECT_GT(j["process"]["open_fds"].get<uint64_t>(), 3u);
  EXPECT_GT(j["process"]["rss_bytes"].get<uint64_t>(), 0u);
  // The machine's TCP memory, beside the process, in whole pages (it may be 0 on an idle machine:
  // the kernel caches pages per CPU before it counts them), and the pressure mark is the sysctl's
  // second field, in bytes.
  uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  EXPECT_EQ(j["process"]["host_tcp_memory_bytes"].get<uint64_t>() % page, 0u);
  std::ifstream tcp_mem("/proc/sys/net/ipv4/tcp_mem");
  uint64_t low = 0, pressure = 0;
  tcp_mem >> low >> pressure;
  EXPECT_EQ(j["process"]["host_tcp_pressure_bytes"].get<uint64_t>(), pressure * page);
  // The kernel's pressure state as /proc/net/protocols says it (it changes seldom enough to read twice).
  EXPECT_EQ(j["process"]["host_tcp_under_pressure"].get<uint64_t>(),
            sp::metrics::proc::tcp_memory_pressure().value_or(false) ? 1u : 0u);
}

TEST(StatsServer, LongLineGetsAnErrorAndTheConnectionEnds) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  int baseline = count_open_fds();
  Fd fd = test::connect_to(port_of(server));
  std::string huge(1 << 20, 'x');
  test::send_all(fd.get(), huge.data(), huge.size());  // may fail part-way once the server resets
  bool ended = false;
  std::string text = read_until_end(fd.get(), 5s, &ended);
  EXPECT_TRUE(ended);
  if (!text.empty()) {
    EXPECT_NE(text.find("line longer than 4096"), std::string::npos) << text.substr(0, 200);
  }
  fd.reset();
  EXPECT_TRUE(fds_return_to(baseline, 5s));
}

TEST(StatsServer, TooManyBadCommandsCloses) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  Fd fd = test::connect_to(port_of(server));
  std::string garbage;
  for (int i = 0; i < 20; ++i) garbage += "nope\n";
  send_text(fd.get(), garbage);
  bool ended = false;
  auto lines = split_lines(read_until_end(fd.get(), 5s, &ended));
  EXPECT_TRUE(ended);
  ASSERT_EQ(lines.size(), 9u);  // 8 errors and the closing one
  EXPECT_NE(lines.back().find("too many bad commands"), std::string::npos);
}

TEST(StatsServer, BinaryGarbageIsHarmless) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  int baseline = count_open_fds();
  std::mt19937 rng(7);
  for (int c = 0; c < 10; ++c) {
    Fd fd = test::connect_to(port_of(server));
    std::string bytes(3000, '\0');
    for (char& b : bytes) b = static_cast<char>(rng());
    test::send_all(fd.get(), bytes.data(), bytes.size());
    bool ended = false;
    std::string text = read_until_end(fd.get(), 5s, &ended);
    EXPECT_TRUE(ended);
    for (const auto& line : split_lines(text)) EXPECT_NO_THROW(json::parse(line)) << line;
  }
  EXPECT_TRUE(fds_return_to(baseline, 5s));
}

TEST(StatsServer, ClientLimit) {
  FakeProgram program;
  StatsOptions o = tcp_options();
  o.limits.max_clients = 3;
  o.limits.first_command_wait_ms = 3000;  // keep the first ones connected
  StatsServer server(o, program.source());
  std::vector<Fd> held;
  for (int i = 0; i < 3; ++i) {  // connected, not watching, no command yet: each counts
    held.push_back(test::connect_to(port_of(server)));
    read_until_end(held.back().get(), 50ms);  // make sure it was accepted
  }
  for (int i = 0; i < 2; ++i) {
    Fd extra = test::connect_to(port_of(server));
    bool ended = false;
    std::string text = read_until_end(extra.get(), 5s, &ended);
    EXPECT_TRUE(ended);
    EXPECT_NE(text.find("too many stats clients"), std::string::npos) << text;
  }
  held.clear();  // they go; new clients are served again
  std::this_thread::sleep_for(100ms);
  Fd again = test::connect_to(port_of(server));
  send_text(again.get(), "stats\n");
  ::shutdown(again.get(), SHUT_WR);
  EXPECT_NO_THROW(json::parse(split_lines(read_until_end(again.get(), 5s)).at(0)));
}

TEST(StatsServer, WatchersHaveTheirOwnLimitAndNeverLockOutAOneShotRequest) {
  FakeProgram program;
  StatsOptions o = tcp_options();
  o.limits.max_clients = 2;
  o.limits.max_watchers = 3;
  StatsServer server(o, program.source());
  std::vector<Fd> watchers;
  int streaming = 0, refused = 0;
  for (int i = 0; i < 5; ++i) {
    Fd fd = test::connect_to(port_of(server));
    send_text(fd.get(), "watch 3600000\n");
    std::string text = read_until_end(fd.get(), 200ms);
    if (text.find("\"workers\"") != std::string::npos) ++streaming, watchers.push_back(std::move(fd));
    if (text.find("too many watch streams (3)") != std::string::npos) ++refused;  // and we close
  }
  EXPECT_EQ(streaming, 3);
  EXPECT_EQ(refused, 2);
  for (int i = 0; i < 2; ++i) {  // one-shot requests beside more watchers than max_clients
    Fd once = test::connect_to(port_of(server));
    send_text(once.get(), "stats\n");
    ::shutdown(once.get(), SHUT_WR);
    EXPECT_NO_THROW(json::parse(split_lines(read_until_end(once.get(), 5s)).at(0)));
  }
  send_text(watchers.front().get(), "quit\n");  // a watcher leaves: its slot is free again
  read_until_end(watchers.front().get(), 1s);
  watchers.erase(watchers.begin());
  std::this_thread::sleep_for(100ms);
  Fd next = test::connect_to(port_of(server));
  send_text(next.get(), "watch 3600000\n");
  std::string got = read_until_end(next.get(), 200ms);
  EXPECT_NE(got.find("\"workers\""), std::string::npos) << got;
}

TEST(StatsServer, AWatcherThatDoesNotReadIsDropped) {
  FakeProgram program;
  StatsOptions o = tcp_options();
  o.limits.max_output = 64 << 10;
  o.limits.stall_timeout_ms = 300;
  StatsServer server(o, program.source());
  int baseline = count_open_fds();
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int small = 4096;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  auto addr = resolve(parse_host_port(server.address(), 0), false).front();
  ASSERT_EQ(::connect(fd.get(), addr.get(), addr.length), 0);
  send_text(fd.get(), "watch 50\n");
  char first[64];  // the server has accepted and is streaming
  ASSERT_GT(::recv(fd.get(), first, sizeof first, 0), 0);
  // Not reading: the server's buffers fill, its output stalls, and it lets go of the client.
  EXPECT_TRUE(fds_return_to(baseline + 1, 15s));  // only our own end is left
  bool ended = false;
  read_until_end(fd.get(), 10s, &ended);
  EXPECT_TRUE(ended);
}

TEST(StatsServer, HundredsOfIdleClientsAreAnsweredAndClosed) {
  FakeProgram program;
  StatsOptions o = tcp_options();
  o.limits.max_clients = 64;
  StatsServer server(o, program.source());
  int baseline = count_open_fds();
  std::vector<Fd> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(test::connect_to(port_of(server)));
  // Each gets a snapshot (or the too-many error) and is closed; none is kept by the server.
  int answered = 0, refused = 0, ended = 0;
  for (auto& fd : idle) {
    bool end = false;
    std::string text = read_until_end(fd.get(), 5s, &end);
    if (text.find("\"workers\"") != std::string::npos) ++answered;
    if (text.find("too many stats clients") != std::string::npos) ++refused;
    ended += end;
  }
  EXPECT_EQ(answered + refused, 100);
  EXPECT_EQ(ended, 100);
  EXPECT_GE(answered, 64);
  EXPECT_TRUE(fds_return_to(baseline + 100, 5s));  // only our ends are left
  idle.clear();
  EXPECT_TRUE(fds_return_to(baseline, 5s));
}

Fd connect_unix(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Fd();
  return fd;
}

TEST(StatsServer, UnixSocketIsPrivateReplacesAStaleOneAndIsRemoved) {
  FakeProgram program;
  std::string path = test::temp_path("unix.sock");
  {  // a socket file left behind by a killed process
    Fd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ::unlink(path.c_str());
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  StatsOptions o;
  o.where = "unix:" + path;
  {
    StatsServer server(o, program.source());
    EXPECT_EQ(server.address(), "unix:" + path);
    struct stat st;
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // A second server on the same live socket must not steal it.
    EXPECT_THROW(StatsServer(o, program.source()), SocketError);
    Fd fd = connect_unix(path);
    ASSERT_TRUE(fd);
    send_text(fd.get(), "stats\n");
    ::shutdown(fd.get(), SHUT_WR);
    EXPECT_EQ(json::parse(split_lines(read_until_end(fd.get(), 5s)).at(0))["version"], 1);
    Fd silent = connect_unix(path);  // says nothing, keeps its side open: snapshot, then closed
    bool ended = false;
    std::string text = read_until_end(silent.get(), 5s, &ended);
    EXPECT_TRUE(ended);
    EXPECT_NO_THROW(json::parse(split_lines(text).at(0)));
  }
  struct stat st;
  EXPECT_NE(::lstat(path.c_str(), &st), 0) << "socket file left behind";
}

TEST(StatsServer, UnixPathThatIsNotASocketIsLeftAlone) {
  FakeProgram program;
  std::string path = test::temp_path("regular");
  { std::ofstream(path) << "precious"; }
  StatsOptions o;
  o.where = "unix:" + path;
  EXPECT_THROW(StatsServer(o, program.source()), std::runtime_error);
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  ::unlink(path.c_str());
}

TEST(StatsServer, LogGetsOneLinePerInterval) {
  FakeProgram program;
  std::string path = test::temp_path("log.jsonl");
  ::unlink(path.c_str());
  StatsOptions o;
  o.interval_ns = 50'000'000;
  o.log_path = path;
  {
    auto server = start_stats(o, program.source(), false);
    ASSERT_TRUE(server);
    EXPECT_TRUE(server->address().empty());
    std::this_thread::sleep_for(400ms);
  }
  std::ifstream in(path);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  EXPECT_GE(lines.size(), 3u);  // 8 when the machine is idle; ticks that fall behind are skipped
  EXPECT_LE(lines.size(), 9u);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_GT(lines[i]["uptime_s"].get<double>(), lines[i - 1]["uptime_s"].get<double>());
    EXPECT_GT(lines[i]["window_s"].get<double>(), 0.0);  // shorter after a late tick (fixed schedule)
    EXPECT_LT(lines[i]["window_s"].get<double>(), 0.5);
  }
  ::unlink(path.c_str());
}

TEST(StatsServer, StartStatsOffAndBestEffort) {
  FakeProgram program;
  StatsOptions off;
  EXPECT_EQ(start_stats(off, program.source(), false), nullptr);
  // The port is taken: an asked-for address fails, the default one is skipped with a warning.
  Fd taken = listen_tcp(resolve({"127.0.0.1", 0}, true).front());
  StatsOptions busy;
  busy.where = local_address(taken.get()).to_string();
  EXPECT_THROW(start_stats(busy, program.source(), false), SocketError);
  StatsOptions bad_log = busy;
  bad_log.log_path = "/nonexistent-dir/stats.jsonl";  // not the socket's fault: never skipped
  EXPECT_THROW(start_stats(bad_log, program.source(), true), std::system_error);
  EXPECT_EQ(start_stats(busy, program.source(), true), nullptr);
}

TEST(StatsServer, ManyShortClientsLeaveNoDescriptors) {
  FakeProgram program;
  StatsServer server(tcp_options(), program.source());
  int baseline = count_open_fds();
  for (int i = 0; i < 40; ++i) {
    Fd fd = test::connect_to(port_of(server));
    switch (i % 4) {
      case 0: send_text(fd.get(), "stats\n"); break;
      case 1: send_text(fd.get(), "help\nquit\n"); break;
      case 2: ::shutdown(fd.get(), SHUT_WR); break;
      case 3: break;  // close at once, before any reply
    }
    if (i % 4 != 3) read_until_end(fd.get(), 2s);
  }
  EXPECT_TRUE(fds_return_to(baseline, 5s));
}

}  // namespace
}  // namespace sp::metrics
