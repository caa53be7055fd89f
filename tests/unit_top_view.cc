// proxy-top's screen (top/view.*): rows from snapshots, per-second deltas, the CPU bar, and the
// fit to the terminal's width and height.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "top/view.h"

namespace sp::top {
namespace {

using nlohmann::json;

json snapshot(int workers, double uptime, uint64_t voluntary) {
  json s = {{"program", "proxy"}, {"pid", 42}, {"mode", "uring"}, {"mode_effective", "rw"}, {"uptime_s", uptime},
            {"interval_s", 1.0}};
  s["totals"] = {{"connections_active", 3}, {"connections_total", 9}, {"bytes_per_s", 2.5e9},
                 {"cpu", {{"user_pct", 10.0}, {"sys_pct", 20.0}}}, {"ctx_switches", {{"voluntary", voluntary}, {"involuntary", 0}}}};
  s["process"] = {{"rss_bytes", 5000000}, {"open_fds", 23}, {"threads", 5}, {"cpu", {{"user_pct", 1.0}, {"sys_pct", 2.0}}},
                  {"host_tcp_memory_bytes", 1200000}, {"host_tcp_pressure_bytes", 1572400000}};
  s["workers"] = json::array();
  for (int i = 0; i < workers; ++i)
    s["workers"].push_back({{"id", i}, {"connections_active", 1}, {"connections_total", 2}, {"bytes_per_s", 493.8e6},
                            {"cpu", {{"user_pct", 50.0}, {"sys_pct", 25.0}}},
                            {"ctx_switches", {{"voluntary", voluntary}, {"involuntary", 7}}},
                            {"counters", {{"connect_failed", 1}, {"connect_timeout", 2}, {"resets", 3}, {"session_errors", 4}}}});
  s["listeners"] = {{{"address", "0.0.0.0:9998"}, {"accepted", 9}, {"accepted_per_s", 1.5}, {"refused", 0}, {"accept_pauses", 0}}};
  return s;
}

std::string text(const std::vector<Line>& lines) {
  std::string out;
  for (const Line& l : lines) out += l.text + "\n";
  return out;
}

Frame connected(const json* latest, int width = 120, int height = 40) {
  Frame f;
  f.where = "127.0.0.1:9997";
  f.connected = true;
  f.latest = latest;
  f.width = width;
  f.height = height;
  return f;
}

TEST(TopView, RowsPerWorkerWithRatesBarsAndErrors) {
  json s = snapshot(2, 10, 100);
  std::string screen = text(render_frame(connected(&s)));
  EXPECT_NE(screen.find("proxy pid 42  mode uring (RUNNING rw)  up 10.0s"), std::string::npos) << screen;
  EXPECT_NE(screen.find("493.8 MB/s"), std::string::npos);
  EXPECT_NE(screen.find("2.5 GB/s"), std::string::npos);  // totals
  EXPECT_NE(screen.find("0.0.0.0:9998"), std::string::npos);
  EXPECT_NE(screen.find("rss 5.0 MB, 23 fds"), std::string::npos);
  EXPECT_NE(screen.find("host: kernel TCP memory 1.2 MB of 1572.4 MB (tcp_mem pressure mark)\n"), std::string::npos)
      << screen;
  // Worker rows: id, then numbers; errors 1+2+3+4; no earlier snapshot: context switches "-".
  EXPECT_NE(screen.find("\n0           1      2 493.8 MB/s   50.0   25.0      -      -     10  ["), std::string::npos)
      << screen;
  // 120 columns leave room for all 50 bar cells: 50 % user and 25 % sys of one core.
  EXPECT_NE(screen.find("[" + std::string(25, '=') + std::string(13, '#') + std::string(12, ' ') + "]"), std::string::npos)
      << screen;
}

TEST(TopView, TcpMemoryPastThePressureMarkIsAnAlert) {
  json s = snapshot(1, 10, 100);
  s["process"]["host_tcp_memory_bytes"] = 1600000000;
  std::vector<Line> lines = render_frame(connected(&s));
  auto host = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.text.rfind("host:", 0) == 0; });
  ASSERT_NE(host, lines.end()) << text(lines);
  EXPECT_EQ(host->text, "host: kernel TCP memory 1600.0 MB of 1572.4 MB (tcp_mem pressure mark): UNDER PRESSURE");
  EXPECT_EQ(host->style, Line::Style::kAlert);
  s["process"]["host_tcp_memory_bytes"] = 1200000000;  // below the mark, but the kernel still regulates
  s["process"]["host_tcp_under_pressure"] = 1;
  lines = render_frame(connected(&s));
  host = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.text.rfind("host:", 0) == 0; });
  ASSERT_NE(host, lines.end()) << text(lines);
  EXPECT_EQ(host->text, "host: kernel TCP memory 1200.0 MB of 1572.4 MB (tcp_mem pressure mark): UNDER PRESSURE");
  EXPECT_EQ(host->style, Line::Style::kAlert);
  s["process"].erase("host_tcp_pressure_bytes");  // an older proxy, or the sysctl unreadable: no line
  lines = render_frame(connected(&s));
  EXPECT_TRUE(std::none_of(lines.begin(), lines.end(), [](const Line& l) { return l.text.rfind("host:", 0) == 0; }));
}

// What the kernel relayed and what the worker moved on, between two snapshots of a sockmap proxy.
TEST(TopView, SockmapSaysWhoMovedTheBytes) {
  auto sockmap = [](double uptime, uint64_t bytes_in, uint64_t moved, uint64_t holds, uint64_t declined) {
    json s = snapshot(2, uptime, 100);
    s["mode"] = s["mode_effective"] = "sockmap";
    for (json& w : s["workers"])
      w["counters"] = {{"bytes_in", bytes_in}, {"bytes_out", bytes_in}, {"sockmap_moved_bytes", moved},
                       {"sockmap_holds", holds}, {"sockmap_declined", declined}};
    return s;
  };
  auto sockmap_line = [](const std::vector<Line>& lines) {
    auto it = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.text.rfind("sockmap:", 0) == 0; });
    return it == lines.end() ? std::string() : it->text;
  };
  // Two workers, each 1 GB each way by now (0.5 GB each way before), 900 MB moved on (500 before).
  json before = sockmap(10, 500'000'000, 500'000'000, 3, 0), now = sockmap(12, 1'000'000'000, 900'000'000, 8, 0);
  Frame f = connected(&now);
  f.previous = &before;
  EXPECT_EQ(sockmap_line(render_frame(f)),
            "sockmap: kernel 60.0%, worker 40.0% of 2.0GB in 2.0s (10 holds)");
  // Sessions the guard sent to splice count in the same bytes, for as long as they run.
  before = sockmap(10, 500'000'000, 500'000'000, 3, 1);
  now = sockmap(12, 1'000'000'000, 900'000'000, 8, 2);
  EXPECT_EQ(sockmap_line(render_frame(f)),
            "sockmap: worker 40.0% of 2.0GB in 2.0s (10 holds), kernel+splice the rest (4 spliced)");
  f.previous = nullptr;  // the first snapshot: since start
  EXPECT_EQ(sockmap_line(render_frame(f)),
            "sockmap: worker 45.0% of 4.0GB since start (16 holds), kernel+splice the rest (4 spliced)");
  f.previous = &now;  // nothing moved in between
  EXPECT_EQ(sockmap_line(render_frame(f)), "sockmap: no bytes in 0.0s");
  json other = snapshot(1, 10, 100);  // another mode: no line
  EXPECT_EQ(sockmap_line(render_frame(connected(&other))), "");
}

TEST(TopView, ContextSwitchesPerSecondBetweenSnapshots) {
  json before = snapshot(1, 10, 100), now = snapshot(1, 12, 300);
  Frame f = connected(&now);
  f.previous = &before;
  std::string screen = text(render_frame(f));
  EXPECT_NE(screen.find("    100      0     10"), std::string::npos) << screen;  // (300-100)/2 s, 7-7
}

TEST(TopView, FitsTheWidthAndDropsTheBarWhenNarrow) {
  json s = snapshot(2, 1, 0);
  for (int width : {40, 79, 80, 120, 200}) {
    auto lines = render_frame(connected(&s, width));
    for (const Line& l : lines) EXPECT_LE(static_cast<int>(l.text.size()), width) << l.text;
    // The bar needs 10 cells besides the 70 columns of numbers; whole or not at all.
    auto row = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.text.rfind("0 ", 0) == 0; });
    ASSERT_NE(row, lines.end());
    EXPECT_EQ(row->text.find('[') != std::string::npos, width >= 80) << width << ": " << row->text;
    if (width >= 80) {
      EXPECT_EQ(row->text.back(), ']') << row->text;
    }
  }
  auto wide = render_frame(connected(&s, 300));
  EXPECT_NE(text(wide).find("[" + std::string(25, '=')), std::string::npos);  // 50 cells at most
  EXPECT_EQ(text(wide).find("[" + std::string(26, '=')), std::string::npos);
}

TEST(TopView, FitsTheHeightAndSaysHowManyWorkersAreHidden) {
  json s = snapshot(100, 1, 0);
  auto lines = render_frame(connected(&s, 120, 30));
  EXPECT_LE(lines.size(), 30u);
  std::string screen = text(lines);
  EXPECT_NE(screen.find("more workers"), std::string::npos) << screen;
  EXPECT_NE(screen.find("\ntotal "), std::string::npos) << screen;
  EXPECT_NE(screen.find("LISTENER"), std::string::npos) << screen;
  EXPECT_NE(screen.find("process:"), std::string::npos) << screen;
  auto all = render_frame(connected(&s, 120, 200));
  EXPECT_EQ(text(all).find("more workers"), std::string::npos);
  EXPECT_NE(text(all).find("\n99 "), std::string::npos);
}

TEST(TopView, NotConnectedSaysWhyAndShowsNoNumbers) {
  json s = snapshot(2, 1, 0);
  Frame f = connected(&s);
  f.connected = false;
  f.status = "127.0.0.1:9997: connect: Connection refused; retrying in 2 s";
  auto lines = render_frame(f);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "NOT CONNECTED: 127.0.0.1:9997: connect: Connection refused; retrying in 2 s");
  EXPECT_EQ(lines[1].style, Line::Style::kAlert);
  EXPECT_EQ(text(lines).find("WORKER"), std::string::npos);
  f.width = 20;
  for (const Line& l : render_frame(f)) EXPECT_LE(l.text.size(), 20u);
}

TEST(TopView, ConnectedButTheSocketSaidSomethingElse) {
  json s = snapshot(1, 1, 0);
  Frame f = connected(&s);
  f.status = "the stats socket says: \"too many stats clients (256)\"";
  auto lines = render_frame(f);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, f.status);
  EXPECT_EQ(lines[1].style, Line::Style::kAlert);
  EXPECT_NE(text(lines).find("WORKER"), std::string::npos);  // the last good snapshot stays
  f.status = "connected";
  EXPECT_EQ(render_frame(f)[1].style, Line::Style::kPlain);
}

// The size a terminal opens at: every column, the error counts and the bar, nothing cut.
TEST(TopView, EveryColumnFitsEightyByTwentyFour) {
  json s = snapshot(4, 3600, 100);
  for (auto& w : s["workers"]) w["counters"]["resets"] = 1234567;  // a worker that went very wrong
  s["totals"]["connections_total"] = 123456789;
  auto lines = render_frame(connected(&s, 80, 24));
  EXPECT_LE(lines.size(), 24u);
  std::string screen = text(lines);
  for (const char* heading : {"WORKER", "ACTIVE", "CONNS", "BYTES/S", "USER%", "SYS%", "VCSW/S", "ICSW/S", "ERRORS",
                              "CPU =us #sy", "LISTENER", "ACCEPTED", "ACCEPT/S", "REFUSED", "PAUSES"})
    EXPECT_NE(screen.find(heading), std::string::npos) << heading << "\n" << screen;
  // 1+2+1234567+4 errors a worker, four workers; 123456789 connections in all.
  EXPECT_NE(screen.find("   1.2M  [="), std::string::npos) << screen;
  EXPECT_NE(screen.find("\ntotal       3   123M   2.5 GB/s   10.0   20.0      -      -   4.9M  ["), std::string::npos) << screen;
  // Nothing was cut at the 80th column: each line ends as it should.
  for (const Line& l : lines) {
    EXPECT_LE(l.text.size(), 80u) << l.text;
    if (l.text.rfind("WORKER", 0) == 0) {
      EXPECT_EQ(l.text.substr(l.text.size() - 11), "CPU =us #sy") << l.text;
    }
    if (l.text.find("  [") != std::string::npos) {
      EXPECT_EQ(l.text.back(), ']') << l.text;
    }
  }
  EXPECT_NE(screen.find("up 1h00m00s\n"), std::string::npos) << screen;
  EXPECT_NE(screen.find("sys 2.0%\n"), std::string::npos) << screen;
}

// A pool of backends gets a section, a remote that is down stands out, and all of it fits 80x24.
TEST(TopView, RemotesOfAPoolWithTheOnesDownMarked) {
  json s = snapshot(4, 60, 100);
  s["remotes"] = {{{"address", "10.0.0.1:8080"}, {"up", 1}, {"weight", 2}, {"active", 12}, {"connects", 3400}, {"connect_failures", 0}},
                  {{"address", "10.0.0.2:8080"}, {"up", 0}, {"weight", 1}, {"active", 0}, {"connects", 1700}, {"connect_failures", 3}}};
  auto lines = render_frame(connected(&s, 80, 24));
  EXPECT_LE(lines.size(), 24u);
  std::string screen = text(lines);
  EXPECT_NE(screen.find("REMOTE"), std::string::npos) << screen;
  bool down_alert = false;
  for (const Line& l : lines) {
    EXPECT_LE(l.text.size(), 80u) << l.text;
    if (l.text.rfind("10.0.0.2:8080", 0) == 0) {
      EXPECT_NE(l.text.find("DOWN"), std::string::npos) << l.text;
      down_alert = l.style == Line::Style::kAlert;
    }
    if (l.text.rfind("10.0.0.1:8080", 0) == 0) {
      EXPECT_EQ(l.text, "10.0.0.1:8080                      up      2     12     3400       0");
    }
  }
  EXPECT_TRUE(down_alert) << screen;
  s["remotes"].erase(1);  // one remote alone: no section
  EXPECT_EQ(text(render_frame(connected(&s, 80, 24))).find("REMOTE"), std::string::npos);
}

TEST(TopView, SortsTheWorkersByTheChosenColumnAndSaysWhich) {
  json s = snapshot(5, 10, 100);
  for (int i = 0; i < 5; ++i) {
    s["workers"][i]["bytes_per_s"] = (i == 3 ? 9e9 : i * 1e6);
    s["workers"][i]["counters"]["resets"] = (i == 1 ? 500 : 0);
  }
  auto first_row = [&](SortBy by, int height) {
    Frame f = connected(&s, 80, height);
    f.controls.sort = by;
    auto lines = render_frame(f);
    EXPECT_NE(lines[1].text.find(std::string("sort ") + sort_name(by)), std::string::npos) << lines[1].text;
    auto row = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.text.rfind("WORKER", 0) == 0; });
    return row + 1 < lines.end() ? row[1].text.substr(0, 2) : std::string();
  };
  EXPECT_EQ(first_row(SortBy::kWorker, 24), "0 ");
  EXPECT_EQ(first_row(SortBy::kBytes, 24), "3 ");
  EXPECT_EQ(first_row(SortBy::kErrors, 24), "1 ");
  EXPECT_EQ(first_row(SortBy::kConns, 24), "0 ");  // a tie keeps the id order
  // A short terminal keeps the rows that matter most: the biggest by the sort column.
  Frame f = connected(&s, 80, 16);
  f.controls.sort = SortBy::kBytes;
  std::string screen = text(render_frame(f));
  EXPECT_NE(screen.find("\n3 "), std::string::npos) << screen;
  EXPECT_NE(screen.find("more workers"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("\n0 "), std::string::npos) << screen;
}

TEST(TopView, HelpAndPause) {
  json s = snapshot(2, 10, 100);
  Frame f = connected(&s, 80, 24);
  f.controls.help = true;
  auto lines = render_frame(f);
  EXPECT_LE(lines.size(), 24u);
  std::string screen = text(lines);
  EXPECT_NE(screen.find("keys (h, ? or Esc closes this help)"), std::string::npos) << screen;
  for (const char* key : {"  h ?  ", "  s  ", "  p  ", "  q  ", "ERRORS ", "CPU "})
    EXPECT_NE(screen.find(key), std::string::npos) << key;
  EXPECT_EQ(screen.find("LISTENER"), std::string::npos) << "the numbers are hidden under the help";
  f.width = 1000;
  EXPECT_EQ(text(render_frame(f)), screen) << "a help line is wider than 80 columns";

  f = connected(&s, 80, 24);
  f.controls.paused = true;
  f.age_s = 3;
  lines = render_frame(f);
  EXPECT_EQ(lines[1].text, "PAUSED (p resumes): the snapshot from 3.0s ago   sort WORKER   h: help");
  EXPECT_EQ(lines[1].style, Line::Style::kAlert);
  EXPECT_NE(text(lines).find("LISTENER"), std::string::npos);
  f.controls.paused = false;
  EXPECT_EQ(render_frame(f)[1].text, "connected, updated 3.0s ago, every 1s   sort WORKER   h: help");
}

TEST(TopView, CompactCounts) {
  EXPECT_EQ(count_text(0), "0");
  EXPECT_EQ(count_text(99999), "99999");
  EXPECT_EQ(count_text(100000), "100k");
  EXPECT_EQ(count_text(999499), "999k");
  EXPECT_EQ(count_text(999500), "1.0M");
  EXPECT_EQ(count_text(1.5e6), "1.5M");
  EXPECT_EQ(count_text(123e6), "123M");
  EXPECT_EQ(count_text(4.2e12), "4.2T");
  EXPECT_LE(count_text(1.8e19).size(), 5u);
  EXPECT_EQ(count_text(-1), "0");
}

TEST(TopView, Units) {
  EXPECT_EQ(rate_text(12), "12 B/s");
  EXPECT_EQ(rate_text(493.8e6), "493.8 MB/s");
  EXPECT_EQ(rate_text(1.25e9), "1.2 GB/s");
  EXPECT_EQ(duration_text(7.25), "7.2s");
  EXPECT_EQ(duration_text(245), "4m05s");
  EXPECT_EQ(duration_text(3723), "1h02m03s");
  EXPECT_EQ(worker_errors(json::object()), 0u);
}

}  // namespace
}  // namespace sp::top
