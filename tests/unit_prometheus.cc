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
    w.counters.bytes_in = static_cast<uint64_t>(i + 1) * 600;
    w.counters.bytes_out = static_cast<uint64_t>(i + 1) * 400;
    w.bytes_per_s = 10.5 * (i + 1);
    w.cpu.user_s = 1.5;
    w.cpu.sys_s = 0.25;
    w.counters.read_calls = 9;
    w.counters.eagain = 7;
    w.counters.buffer_bytes_held = 16384;
    s.workers.push_back(w);
  }
  s.threads.push_back({"acceptor", 99, {}});
  s.process.rss_bytes = 1 << 20;
  s.process.cpu.user_s = 3;
  s.process.cpu.sys_s = 0.75;
  ListenerView l;
  l.address = "127.0.0.1:9998";
  l.accepted = 5;
  s.listeners.push_back(l);
  RemoteView r;
  r.address = "127.0.0.1:9999";
  r.up = 1;
  r.weight = 2;
  r.connects = 3;
  s.remotes.push_back(r);
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

TEST(Prometheus, EveryMetricOfTheTableIsInTheTextOrSaysWhatToQueryInstead) {
  std::string text = render_prometheus(three_workers());
  std::set<std::string> families;
  for (const MetricInfo& m : metric_table()) {
    if (m.kind == MetricKind::kLabel) {
      bool info = m.prometheus.find("info{") != std::string::npos || m.prometheus.rfind("label ", 0) == 0;
      EXPECT_TRUE(info || m.prometheus.rfind("– (", 0) == 0) << m.name;
      continue;
    }
    if (m.prometheus.rfind("– (", 0) == 0) {  // JSON only: an interval rate, a total, a sum of directions
      EXPECT_GT(m.prometheus.size(), 8u) << m.name << ": says what to query instead";
      continue;
    }
    std::string family = m.prometheus.substr(0, m.prometheus.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum"})
      if (family.size() > 7 && family.ends_with(suffix)) family.resize(family.size() - std::string(suffix).size());
    EXPECT_EQ(family.find('.'), std::string::npos) << m.prometheus;
    bool typed = has_line(text, "# TYPE " + family + " counter") || has_line(text, "# TYPE " + family + " gauge") ||
                 has_line(text, "# TYPE " + family + " histogram");
    EXPECT_TRUE(typed) << m.name << " -> " << family;
    if (has_line(text, "# TYPE " + family + " counter")) {
      EXPECT_TRUE(family.ends_with("_total")) << family << ": counters end in _total";
      EXPECT_EQ(m.kind, MetricKind::kCounter) << m.name;
    }
    families.insert(family);
  }
  // Prometheus' conventions: counters, never the proxy's own rates or percentages; dimensions as
  // labels; the standard process_* names; no per-restart label but on spliceproxy_info.
  for (const std::string& line : lines_of(text)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    EXPECT_EQ(line.find("_per_second"), std::string::npos) << line;
    EXPECT_EQ(line.find("_percent"), std::string::npos) << line;
    EXPECT_EQ(line.find("cpu_user"), std::string::npos) << line;
    EXPECT_EQ(line.find("cpu_sys"), std::string::npos) << line;
    EXPECT_EQ(line.find("bytes_in"), std::string::npos) << line;
    EXPECT_EQ(line.find("buffers_16k"), std::string::npos) << line;
  }
  EXPECT_EQ(text.find("tid=\""), std::string::npos);
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_bytes_total counter"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_cpu_seconds_total counter"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_buffer_bytes_held gauge"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_buffer_size_bytes histogram"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_worker_pipe_size_bytes histogram"));
  for (const char* standard : {"process_resident_memory_bytes gauge", "process_cpu_seconds_total counter",
                               "process_open_fds gauge", "process_max_fds gauge", "process_start_time_seconds gauge"})
    EXPECT_TRUE(has_line(text, std::string("# TYPE ") + standard)) << standard;
  EXPECT_GT(families.size(), 35u);
}

TEST(Prometheus, SeriesPerWorkerThreadAndListenerWithTheirDimensions) {
  std::string text = render_prometheus(three_workers());
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_total{worker=\"0\",direction=\"in\"} 600"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_total{worker=\"0\",direction=\"out\"} 400"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_bytes_total{worker=\"2\",direction=\"in\"} 1800"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_cpu_seconds_total{worker=\"1\",mode=\"user\"} 1.5"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_cpu_seconds_total{worker=\"1\",mode=\"system\"} 0.25"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_syscalls_total{worker=\"2\",call=\"read\"} 9"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_eagain_total{worker=\"2\"} 7"));
  EXPECT_TRUE(has_line(text, "spliceproxy_thread_cpu_seconds_total{thread=\"acceptor\",mode=\"user\"} 0"));
  EXPECT_TRUE(has_line(text, "spliceproxy_listener_accepted_total{listener=\"127.0.0.1:9998\"} 5"));
  EXPECT_TRUE(has_line(text, "spliceproxy_uptime_seconds 12.5"));
  // The process' user and system CPU are one standard series.
  EXPECT_TRUE(has_line(text, "process_cpu_seconds_total 3.75"));
  EXPECT_TRUE(has_line(text, "process_resident_memory_bytes 1048576"));
  EXPECT_TRUE(has_line(text, std::string("spliceproxy_info{version=\"") + SPLICEPROXY_VERSION +
                                 "\",schema_version=\"1\",program=\"proxy\",mode=\"splice\",mode_effective=\"splice\",pid=\"4242\"} 1"));
  // A worker's counters.connections_total is the same number as its connections_total: one sample.
  size_t at = text.find("spliceproxy_worker_connections_total{worker=\"0\"}");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(text.find("spliceproxy_worker_connections_total{worker=\"0\"}", at + 1), std::string::npos);
}

TEST(Prometheus, BufferAndPipeSizesAreHistograms) {
  Snapshot s = three_workers();
  CounterValues& c = s.workers[0].counters;
  c.buffers_16k = 2;
  c.buffers_64k = 3;
  c.buffers_over_1m = 1;
  c.buffer_bytes_handed = 2 * 16384 + 3 * 65536 + 4194304;
  std::string text = render_prometheus(s);
  auto bucket = [&](const char* le, int count) {
    return has_line(text, std::string("spliceproxy_worker_buffer_size_bytes_bucket{worker=\"0\",le=\"") + le + "\"} " +
                              std::to_string(count));
  };
  EXPECT_TRUE(bucket("16384", 2));
  EXPECT_TRUE(bucket("32768", 2));  // cumulative
  EXPECT_TRUE(bucket("65536", 5));
  EXPECT_TRUE(bucket("1048576", 5));
  EXPECT_TRUE(bucket("+Inf", 6));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_buffer_size_bytes_count{worker=\"0\"} 6"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_buffer_size_bytes_sum{worker=\"0\"} " +
                                 std::to_string(2 * 16384 + 3 * 65536 + 4194304)));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_pipe_size_bytes_count{worker=\"1\"} 0"));
}

TEST(Prometheus, InATextfileTheProcessIsSpliceproxysNotNodeExportersOwn) {
  std::string text = render_prometheus(three_workers(), PromTarget::kTextfile);
  EXPECT_TRUE(has_line(text, "spliceproxy_process_resident_memory_bytes 1048576"));
  EXPECT_TRUE(has_line(text, "spliceproxy_process_cpu_seconds_total 3.75"));
  for (const std::string& line : lines_of(text)) EXPECT_NE(line.rfind("process_", 0), 0u) << line;
  for (const std::string& line : lines_of(text)) EXPECT_EQ(line.find(" process_"), std::string::npos) << line;
}

TEST(Prometheus, OldNamesHaveTheirReplacementsInTheDocs) {
  std::string doc = prometheus_renames_markdown();
  for (const char* old : {"spliceproxy_worker_cpu_user_seconds_total", "spliceproxy_worker_bytes_per_second",
                          "spliceproxy_process_rss_bytes", "spliceproxy_worker_buffers_16k_total", "spliceproxy_bytes_total"})
    EXPECT_NE(doc.find(std::string("`") + old + "`"), std::string::npos) << old;
  EXPECT_NE(doc.find("`spliceproxy_worker_cpu_seconds_total{mode=\"user\"}`"), std::string::npos) << doc;
  EXPECT_NE(doc.find("`process_resident_memory_bytes`"), std::string::npos);
  EXPECT_EQ(doc.find("`spliceproxy_worker_eagain_total` | `spliceproxy_worker_eagain_total`"), std::string::npos)
      << "unchanged names are not listed";
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
    std::string name = line.substr(0, end);
    for (const char* suffix : {"_bucket", "_sum", "_count"})  // a histogram's series
      if (name != family && name.ends_with(suffix) && name.substr(0, name.size() - std::string(suffix).size()) == family)
        name = family;
    EXPECT_EQ(name, family) << "a sample outside its family: " << line;
    std::string value = line.substr(line.rfind(' ') + 1);
    size_t used = 0;
    double v = std::stod(value, &used);
    EXPECT_EQ(used, value.size()) << line;
    EXPECT_TRUE(std::isfinite(v)) << line;
    ++samples;
  }
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
  s.workers[0].cpu.user_s = std::nan("");
  s.workers[1].cpu.user_s = INFINITY;
  std::string text = render_prometheus(s);
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_cpu_seconds_total{worker=\"0\",mode=\"user\"} NaN"));
  EXPECT_TRUE(has_line(text, "spliceproxy_worker_cpu_seconds_total{worker=\"1\",mode=\"user\"} +Inf"));
}

TEST(Prometheus, NoWorkersNoListenersStillValid) {
  Snapshot s;
  s.program = "tcp_ping_server";
  s.mode = s.mode_effective = "echo";
  std::string text = render_prometheus(s);
  EXPECT_EQ(text.find("spliceproxy_worker_"), std::string::npos);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_EQ(text.find("spliceproxy_bytes_total"), std::string::npos) << "totals are sums Prometheus makes itself";
}

}  // namespace
}  // namespace sp::metrics
