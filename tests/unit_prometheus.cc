// The Prometheus text of a snapshot (metrics/prometheus.*): one family per metric of the table,
// counters as *_total, labels per worker/thread/listener, escaping, and the format's structure.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "metrics/metric_table.h"
#include "metrics/prometheus.h"
#include "spliceproxy_version.h"

namespace sp::metrics {
namespace {

Snapshot three_workers() {
  Snapshot s;
  s.program = "proxy";
  s.mode = "splice";
  s.mode_effective = "splice";
  s.pid = 4242;
  s.uptime_s = 12.5;
  for (int i = 0; i < 3; ++i) {
    WorkerView w;
    w.id = i;
    w.tid = 100 + i;
    w.bytes = static_cast<uint64_t>(i + 1) * 1000;
    w.bytes_per_s = 10.5 * (i + 1);
    w.counters.eagain = 7;
    w.counters.buffer_bytes_held = 16384;
    s.workers.push_back(w);
  }
  s.threads.push_back({"acceptor", 99, {}});
  ListenerView l;
  l.address = "127.0.0.1:9998";
  l.accepted = 5;
  s.listeners.push_back(l);
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

TEST(Prometheus, EveryMetricOfTheTableIsOneFamilyOfItsKind) {
  std::string text = render_prometheus(three_workers());
  std::set<std::string> families;
  for (const MetricInfo& m : metric_table()) {
    if (m.kind == MetricKind::kLabel) {
      EXPECT_TRUE(m.prometheus.find("info{") != std::string::npos || m.prometheus.rfind("label ", 0) == 0) << m.name;
      continue;
    }
    bool counter = m.kind == MetricKind::kCounter;
    EXPECT_EQ(m.prometheus.size() > 6 && m.prometheus.substr(m.prometheus.size() - 6) == "_total", counter)
        << m.name << " -> " << m.prometheus << ": counters and only counters end in _total";
    EXPECT_EQ(m.prometheus.find('.'), std::string::npos) << m.prometheus;
    EXPECT_TRUE(has_line(text, "# TYPE " + m.prometheus + (counter ? " counter" : " gauge"))) << m.name;
    families.insert(m.prometheus);
  }
  // Kinds that matter: a rate is a gauge, a cumulative count a counter, bytes held a gauge.
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_bytes_total counter"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_bytes_per_second gauge"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_cpu_user_seconds_total counter"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_cpu_sys_percent gauge"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_buffer_bytes_held gauge"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_connections_active gauge"));
  EXPECT_GT(families.size(), 60u);
}

TEST(Prometheus, SeriesPerWorkerThreadAndListener) {
  std::string text = render_prometheus(three_workers());
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_total{worker=\"0\"} 1000"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_total{worker=\"2\"} 3000"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_per_second{worker=\"1\"} 21"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_eagain_total{worker=\"2\"} 7"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_info{worker=\"1\",tid=\"101\"} 1"));
  EXPECT_TRUE(has_line(text, "spliceproxy_thread_info{thread=\"acceptor\",tid=\"99\"} 1"));
  EXPECT_TRUE(has_line(text, "spliceproxy_listener_accepted_total{listener=\"127.0.0.1:9998\"} 5"));
  EXPECT_TRUE(has_line(text, "spliceproxy_uptime_seconds 12.5"));
  EXPECT_TRUE(has_line(text, std::string("spliceproxy_info{version=\"") + SPLICEPROXY_VERSION +
                                 "\",schema_version=\"1\",program=\"proxy\",mode=\"splice\",mode_effective=\"splice\",pid=\"4242\"} 1"));
}

TEST(Prometheus, TheFormatsStructure) {
  // Each family once, HELP then TYPE, then only its own samples; every value a number.
  std::string text = render_prometheus(three_workers());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::set<std::string> seen;
  std::string family;
  std::string help_for;
  size_t samples = 0;
  for (const std::string& line : lines_of(text)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      help_for = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(help_for).second) << "family twice: " << help_for;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_EQ(family, help_for) << "TYPE without its HELP just before";
      continue;
    }
    size_t end = line.find_first_of("{ ");
    ASSERT_NE(end, std::string::npos) << line;
    EXPECT_EQ(line.substr(0, end), family) << "a sample outside its family: " << line;
    std::string value = line.substr(line.rfind(' ') + 1);
    size_t used = 0;
    double v = std::stod(value, &used);
    EXPECT_EQ(used, value.size()) << line;
    EXPECT_TRUE(std::isfinite(v)) << line;
    ++samples;
  }
  // A worker's counters.connections_total is the same series as its connections_total.
  EXPECT_EQ(seen.count("spliceproxy_worker_connections_total"), 1u);
  EXPECT_GT(samples, 3u * 50);
}

TEST(Prometheus, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
  Snapshot s = three_workers();
  s.listeners[0].address = "we\"ird\\addr\n";
  s.mode = "a\"b";
  std::string text = render_prometheus(s);
  EXPECT_TRUE(has_line(text, "spliceproxy_listener_accepted_total{listener=\"we\\\"ird\\\\addr\\n\"} 5")) << text;
  EXPECT_NE(text.find("mode=\"a\\\"b\""), std::string::npos);
}

TEST(Prometheus, NonFiniteNumbersAreSpelledAsTheFormatSays) {
  Snapshot s = three_workers();
  s.workers[0].bytes_per_s = std::nan("");
  s.workers[1].bytes_per_s = INFINITY;
  std::string text = render_prometheus(s);
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_per_second{worker=\"0\"} NaN"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_per_second{worker=\"1\"} +Inf"));
}

TEST(Prometheus, NoWorkersNoListenersStillValid) {
  Snapshot s;
  s.program = "tcp_ping_server";
  s.mode = s.mode_effective = "echo";
  std::string text = render_prometheus(s);
  EXPECT_EQ(text.find("spliceproxy_worker_"), std::string::npos);
  EXPECT_NE(text.find("# TYPE spliceproxy_bytes_total counter"), std::string::npos);
}

}  // namespace
}  // namespace sp::metrics
