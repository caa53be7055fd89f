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
  s["process"] = {{"rss_bytes", 5000000}, {"open_fds", 23}, {"threads", 5}, {"cpu", {{"user_pct", 1.0}, {"sys_pct", 2.0}}}};
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
  // Worker rows: id, then numbers; errors 1+2+3+4; no earlier snapshot: context switches "-".
  EXPECT_NE(screen.find("\n0              1         2   493.8 MB/s    50.0    25.0         -         -       10  ["),
            std::string::npos)
      << screen;
  // 120 columns leave 31 bar cells: 50 % user and 25 % sys of one core.
  EXPECT_NE(screen.find("[" + std::string(16, '=') + std::string(7, '#') + std::string(8, ' ') + "]"), std::string::npos)
      << screen;
}

TEST(TopView, ContextSwitchesPerSecondBetweenSnapshots) {
  json before = snapshot(1, 10, 100), now = snapshot(1, 12, 300);
  Frame f = connected(&now);
  f.previous = &before;
  std::string screen = text(render_frame(f));
  EXPECT_NE(screen.find("       100         0       10"), std::string::npos) << screen;  // (300-100)/2 s, 7-7
}

TEST(TopView, FitsTheWidthAndDropsTheBarWhenNarrow) {
  json s = snapshot(2, 1, 0);
  for (int width : {40, 80, 98, 99, 120, 200}) {
    auto lines = render_frame(connected(&s, width));
    for (const Line& l : lines) EXPECT_LE(static_cast<int>(l.text.size()), width) << l.text;
    // The bar needs 10 cells besides the 89 columns of numbers; whole or not at all.
    auto row = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.text.rfind("0 ", 0) == 0; });
    ASSERT_NE(row, lines.end());
    EXPECT_EQ(row->text.find('[') != std::string::npos, width >= 99) << width << ": " << row->text;
    if (width >= 99) {
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
