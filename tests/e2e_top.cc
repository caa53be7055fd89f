// End-to-end: proxy-top in a real terminal (tmux, 120 x 40) watching the real proxy. The worker
// rows appear, their byte rates are above zero and change while tcp_ping_client streams, the
// screen says the socket is unreachable once the proxy stops, the rows come back when it
// restarts, and q quits (exit status 0, the alternate screen left). Skipped, saying so, without tmux.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One tmux server of our own (-L NAME), so no other tmux is touched; killed at the end.
class Tmux {
 public:
  explicit Tmux(std::string path) : path_(std::move(path)), socket_("sp-top-" + std::to_string(::getpid())) {}
  ~Tmux() { tmux({"kill-server"}); }
  RunResult tmux(std::vector<std::string> args) {
    std::vector<std::string> argv = {path_, "-L", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 10s);
  }
  std::string screen() { return tmux({"capture-pane", "-p", "-t", "top"}).out; }
  // Polls the screen until pred holds; the last screen in *last.
  template <typename Pred>
  bool wait_screen(Pred pred, std::chrono::milliseconds limit, std::string* last) {
    auto deadline = Clock::now() + limit;
    do {
      *last = screen();
      if (pred(*last)) return true;
      std::this_thread::sleep_for(200ms);
    } while (Clock::now() < deadline);
    return false;
  }

 private:
  std::string path_;
  std::string socket_;
};

struct Row {
  std::string id;
  double bytes_per_s = 0;
};

double to_bytes(double value, const std::string& unit) {
  if (unit == "kB/s") return value * 1e3;
  if (unit == "MB/s") return value * 1e6;
  if (unit == "GB/s") return value * 1e9;
  if (unit == "TB/s") return value * 1e12;
  return value;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// The worker rows on the screen: "0   ACTIVE CONNS  493.8 MB/s USER% SYS% ...". (Split by hand:
// std::regex trips GCC 12's -Wmaybe-uninitialized in the sanitizer builds.)
std::vector<Row> worker_rows(const std::string& screen) {
  std::vector<Row> rows;
  std::stringstream in(screen);
  for (std::string line; std::getline(in, line);) {
    std::stringstream words(line);
    std::vector<std::string> w;
    for (std::string word; w.size() < 7 && words >> word;) w.push_back(word);
    if (w.size() < 7 || !all_digits(w[0]) || !all_digits(w[1]) || !all_digits(w[2])) continue;
    if (w[4] != "B/s" && w[4] != "kB/s" && w[4] != "MB/s" && w[4] != "GB/s" && w[4] != "TB/s") continue;
    try {
      rows.push_back({w[0], to_bytes(std::stod(w[3]), w[4])});
    } catch (const std::exception&) {
    }
  }
  return rows;
}

bool busy(const std::vector<Row>& rows) {
  if (rows.size() != 2) return false;
  for (const Row& r : rows)
    if (r.bytes_per_s <= 0) return false;
  return true;
}

TEST(ProxyTopE2E, ShowsWorkersLosesAndRegainsTheProxyAndQuitsOnQ) {
  RunResult which = run({"/bin/sh", "-c", "command -v tmux"}, 5s);
  if (which.code != 0) GTEST_SKIP() << "tmux is not installed (scripts/setup-deps installs it)";
  uint16_t stats_port = free_port();
  // A short grace: the streaming clients would otherwise hold the proxy's SIGTERM for 5 s.
  std::vector<std::string> stats_args = {"--stats", "127.0.0.1:" + std::to_string(stats_port), "--stats-interval", "0.5",
                                         "--grace", "0.5"};
  ProxyStack stack("rw", stats_args);
  ASSERT_TRUE(wait_for_port(stats_port));
  ChildProcess client({bin("tcp_ping_client"), "-s", "127.0.0.1", "-p", std::to_string(stack.proxy_port), "--mode",
                       "stream", "-c", "4", "-t", "120"});

  Tmux t(which.out.substr(0, which.out.find('\n')));
  // The pane's shell prints proxy-top's exit status afterwards, on the main screen. (tmux's own
  // #{pane_dead_status} is not reliable: under TSan it once left the exited process unreaped.)
  std::string command = bin("proxy-top") + " -i 0.5 --retry-max 1 127.0.0.1:" + std::to_string(stats_port) +
                        "; echo \"proxy-top exit status $?\"; sleep 60";
  RunResult started = t.tmux({"new-session", "-d", "-s", "top", "-x", "120", "-y", "40", command});
  ASSERT_EQ(started.code, 0) << started.err;

  std::string screen;
  ASSERT_TRUE(t.wait_screen([](const std::string& s) { return busy(worker_rows(s)); }, 15s, &screen))
      << "no busy worker rows:\n" << screen;
  EXPECT_NE(screen.find("mode rw (running rw)"), std::string::npos) << screen;
  EXPECT_NE(screen.find("LISTENER"), std::string::npos);
  EXPECT_NE(screen.find("127.0.0.1:" + std::to_string(stack.proxy_port)), std::string::npos) << screen;
  EXPECT_NE(screen.find("total "), std::string::npos);
  std::stringstream lines(screen);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 120u) << line;

  // The numbers move while the bytes flow.
  std::vector<Row> first = worker_rows(screen);
  std::string later;
  EXPECT_TRUE(t.wait_screen(
      [&](const std::string& s) {
        auto rows = worker_rows(s);
        return busy(rows) && (rows[0].bytes_per_s != first[0].bytes_per_s || rows[1].bytes_per_s != first[1].bytes_per_s);
      },
      10s, &later))
      << "rates did not change:\n" << screen << "\n---\n" << later;

  // A narrower window (SIGWINCH, and each redraw reads the size): the bar shrinks from its 50
  // cells at 120 columns to the 20 that 90 columns leave.
  ASSERT_EQ(t.tmux({"resize-window", "-t", "top", "-x", "90", "-y", "40"}).code, 0);
  EXPECT_TRUE(t.wait_screen(
      [](const std::string& s) {
        std::stringstream in(s);
        for (std::string line; std::getline(in, line);)
          if (line.rfind("0 ", 0) == 0) {
            size_t open = line.find('['), close = line.find(']');
            return open != std::string::npos && close != std::string::npos && close - open == 21;
          }
        return false;
      },
      5s, &screen))
      << "not redrawn for 90 columns:\n" << screen;
  ASSERT_EQ(t.tmux({"resize-window", "-t", "top", "-x", "120", "-y", "40"}).code, 0);

  // The proxy goes away: the screen says so, and the rows go.
  stack.proxy->signal(SIGTERM);
  ASSERT_TRUE(stack.proxy->wait(20s).has_value());
  ASSERT_TRUE(t.wait_screen(
      [](const std::string& s) { return s.find("NOT CONNECTED") != std::string::npos && worker_rows(s).empty(); }, 10s,
      &screen))
      << screen;
  EXPECT_NE(screen.find("retrying in"), std::string::npos) << screen;
  // First "closed the connection" (the proxy went away), then each retry's own reason.
  EXPECT_TRUE(t.wait_screen([](const std::string& s) { return s.find("connect: Connection refused") != std::string::npos; },
                            5s, &screen))
      << screen;

  // It comes back on the same stats port: so do the rows (the client reconnects too).
  client.signal(SIGTERM);
  client.wait(10s);
  stack.proxy = start_proxy(stack.proxy_port, stack.server_port, "rw", stats_args);
  ChildProcess again({bin("tcp_ping_client"), "-s", "127.0.0.1", "-p", std::to_string(stack.proxy_port), "--mode",
                      "stream", "-c", "4", "-t", "120"});
  ASSERT_TRUE(t.wait_screen([](const std::string& s) { return busy(worker_rows(s)) && s.find("NOT CONNECTED") == std::string::npos; },
                            15s, &screen))
      << "rows did not come back:\n" << screen;

  // The other keys: h shows the help, s sorts by the next column, p freezes the frame.
  auto press_and_see = [&](const char* key, const std::string& expected) {
    t.tmux({"send-keys", "-t", "top", key});
    EXPECT_TRUE(t.wait_screen([&](const std::string& s) { return s.find(expected) != std::string::npos; }, 5s, &screen))
        << key << " did not show '" << expected << "':\n" << screen;
  };
  press_and_see("h", "keys (h, ? or Esc closes this help)");
  press_and_see("h", "LISTENER");
  press_and_see("s", "sort ACTIVE");
  press_and_see("p", "PAUSED (p resumes)");
  press_and_see("p", "connected, updated");

  // q quits: proxy-top exits with status 0, and the main screen is back (only the status line on it).
  t.tmux({"send-keys", "-t", "top", "q"});
  EXPECT_TRUE(t.wait_screen([](const std::string& s) { return s.find("proxy-top exit status") != std::string::npos; }, 5s,
                            &screen))
      << "proxy-top did not exit on q:\n" << screen;
  EXPECT_NE(screen.find("proxy-top exit status 0\n"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("WORKER"), std::string::npos) << "the alternate screen was not left:\n" << screen;
}

// SIGTERM (as Ctrl-C's SIGINT) ends proxy-top through its signalfd, and the shell it ran from gets
// its terminal back: line editing and echo on again, the main screen.
TEST(ProxyTopE2E, ASignalGivesTheTerminalBack) {
  RunResult which = run({"/bin/sh", "-c", "command -v tmux"}, 5s);
  if (which.code != 0) GTEST_SKIP() << "tmux is not installed (scripts/setup-deps installs it)";
  Tmux t(which.out.substr(0, which.out.find('\n')));
  ASSERT_EQ(t.tmux({"new-session", "-d", "-s", "top", "-x", "120", "-y", "40", "/bin/sh"}).code, 0);
  uint16_t nobody = free_port();
  t.tmux({"send-keys", "-t", "top",
          bin("proxy-top") + " " + std::to_string(nobody) + "; echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-*icanon\\|-*echo'; echo STTY-$((1+1))",
          "Enter"});
  std::string screen;
  ASSERT_TRUE(t.wait_screen([](const std::string& s) { return s.find("NOT CONNECTED") != std::string::npos; }, 10s, &screen))
      << screen;
  // proxy-top is the shell's child: find it by the pane's pid, signal it by its own.
  std::string shell = t.tmux({"display-message", "-p", "-t", "top", "#{pane_pid}"}).out;
  RunResult child = run({"/bin/sh", "-c", "cat /proc/" + shell.substr(0, shell.find('\n')) + "/task/*/children"}, 5s);
  int pid = std::atoi(child.out.c_str());
  ASSERT_GT(pid, 1) << child.out << child.err;
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ASSERT_TRUE(t.wait_screen([](const std::string& s) { return s.find("EXIT=") != std::string::npos &&
                                                                s.find("STTY-2\n") != std::string::npos; },
                            10s, &screen))
      << screen;
  EXPECT_NE(screen.find("EXIT=0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("\nicanon\n"), std::string::npos) << "line editing not restored:\n" << screen;
  EXPECT_NE(screen.find("\necho\n"), std::string::npos) << "echo not restored:\n" << screen;
  EXPECT_EQ(screen.find("NOT CONNECTED"), std::string::npos) << "still on the alternate screen:\n" << screen;
}

TEST(ProxyTopE2E, OnceAndBadFlags) {
  RunResult bad = run({bin("proxy-top"), "--interval", "0"}, 5s);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--interval"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("Try 'proxy-top --help'"), std::string::npos) << bad.err;
  RunResult two = run({bin("proxy-top"), "1", "2"}, 5s);
  EXPECT_EQ(two.code, 2);
  EXPECT_NE(two.err.find("unexpected argument '2'"), std::string::npos) << two.err;
  RunResult help = run({bin("proxy-top"), "-h"}, 5s);
  EXPECT_EQ(help.code, 0);
  for (const char* flag : {"WHERE", "--interval", "--retry-max", "--once", "127.0.0.1:9997"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  uint16_t nobody = free_port();
  RunResult unreachable = run({bin("proxy-top"), "--once", std::to_string(nobody)}, 10s);
  EXPECT_EQ(unreachable.code, 1);
  EXPECT_NE(unreachable.err.find("127.0.0.1:" + std::to_string(nobody) + ": connect: Connection refused"), std::string::npos)
      << unreachable.err;
  RunResult not_a_tty = run({bin("proxy-top"), std::to_string(nobody)}, 10s);
  EXPECT_EQ(not_a_tty.code, 2) << not_a_tty.err;
}

}  // namespace
}  // namespace sp::test
