// The metric table, JSON rendering, rate windows, the CPU split and the /proc parsers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "metrics/metric_table.h"
#include "metrics/proc.h"
#include "metrics/sampler.h"
#include "metrics/snapshot.h"

namespace sp::metrics {
namespace {

using nlohmann::json;

// ---- CPU split -------------------------------------------------------------------------------

TEST(CpuSplit, FollowsTheTickRatioAndSumsToTheExactTotal) {
  CpuSplit s;
  s.update(1'000'000'000, 3, 1);
  EXPECT_EQ(s.user_ns() + s.sys_ns(), 1'000'000'000u);
  EXPECT_EQ(s.sys_ns(), 250'000'000u);
  s.update(2'000'000'000, 10, 10);
  EXPECT_EQ(s.user_ns() + s.sys_ns(), 2'000'000'000u);
  EXPECT_EQ(s.sys_ns(), 1'000'000'000u);
}

TEST(CpuSplit, NeverGoesBackwards) {
  CpuSplit s;
  s.update(1'000'000'000, 0, 10);  // all system so far
  EXPECT_EQ(s.sys_ns(), 1'000'000'000u);
  // The ratio swings to all user: system may not shrink, so the new time all goes to user.
  s.update(1'500'000'000, 10, 0);
  EXPECT_EQ(s.sys_ns(), 1'000'000'000u);
  EXPECT_EQ(s.user_ns(), 500'000'000u);
  // A total that does not grow changes nothing.
  s.update(1'400'000'000, 1, 1);
  EXPECT_EQ(s.user_ns() + s.sys_ns(), 1'500'000'000u);
  uint64_t user = s.user_ns(), sys = s.sys_ns();
  for (uint64_t t = 1; t <= 1000; ++t) {
    s.update(1'500'000'000 + t * 1'000'000, t % 7, (t * 13) % 5);
    EXPECT_GE(s.user_ns(), user);
    EXPECT_GE(s.sys_ns(), sys);
    EXPECT_EQ(s.user_ns() + s.sys_ns(), 1'500'000'000 + t * 1'000'000);
    user = s.user_ns();
    sys = s.sys_ns();
  }
}

TEST(CpuSplit, NoTicksYetMeansUser) {
  CpuSplit s;
  s.update(5'000'000, 0, 0);
  EXPECT_EQ(s.user_ns(), 5'000'000u);
  EXPECT_EQ(s.sys_ns(), 0u);
}

// ---- /proc parsers ---------------------------------------------------------------------------

TEST(Proc, ParsesStatWithAHostileCommandName) {
  std::string stat = "1234 (a) b (c) d) S 1 2 3 4 5 6 7 8 9 10 77 88 0 0 20 0 5 0 100 0 0";
  auto t = proc::parse_stat(stat);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->utime, 77u);
  EXPECT_EQ(t->stime, 88u);
  EXPECT_FALSE(proc::parse_stat("garbage"));
  EXPECT_FALSE(proc::parse_stat("1 (x) S 1 2"));
  EXPECT_FALSE(proc::parse_stat(""));
}

TEST(Proc, ParsesStatusFields) {
  std::string status = "Name:\tproxy\nThreads:\t5\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n";
  EXPECT_EQ(proc::parse_status_field(status, "Threads"), 5u);
  EXPECT_EQ(proc::parse_status_field(status, "voluntary_ctxt_switches"), 120u);
  EXPECT_EQ(proc::parse_status_field(status, "nonvoluntary_ctxt_switches"), 7u);
  EXPECT_FALSE(proc::parse_status_field(status, "Name"));
  EXPECT_FALSE(proc::parse_status_field(status, "Missing"));
  EXPECT_FALSE(proc::parse_status_field("", "Threads"));
}

TEST(Proc, ParsesTheKernelsTcpMemory) {
  EXPECT_EQ(proc::parse_sockstat_tcp_pages("sockets: used 215\nTCP: inuse 11 orphan 0 tw 3 alloc 14 mem 27\nUDP: inuse 2 mem 1\n"),
            27u);
  EXPECT_EQ(proc::parse_sockstat_tcp_pages("TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 512301\n"), 512301u);
  EXPECT_EQ(proc::parse_sockstat_tcp_pages("sockets: used 215\nUDP: inuse 2 mem 1\n"), std::nullopt);
  EXPECT_EQ(proc::parse_sockstat_tcp_pages("TCP: inuse 11 mem x\n"), std::nullopt);
  EXPECT_EQ(proc::parse_sockstat_tcp_pages(""), std::nullopt);
  EXPECT_EQ(proc::parse_tcp_mem_mark("287907\t383879\t575814\n", 0), 287907u);
  EXPECT_EQ(proc::parse_tcp_mem_mark("287907\t383879\t575814\n", 1), 383879u);
  EXPECT_EQ(proc::parse_tcp_mem_mark("287907\t383879\t575814\n", 2), 575814u);
  EXPECT_EQ(proc::parse_tcp_mem_mark("287907\t383879\t575814\n", 3), std::nullopt);
  EXPECT_EQ(proc::parse_tcp_mem_mark("  42 43 44", 1), 43u);
  EXPECT_EQ(proc::parse_tcp_mem_mark("-1 2 3", 0), std::nullopt);
  EXPECT_EQ(proc::parse_tcp_mem_mark("", 0), std::nullopt);
  const char* protocols =
      "protocol  size sockets  memory press maxhdr  slab module     cl co di ac io in de sh ss gs se re bi br ha uh gp em\n"
      "UDP       1344      0       0   NI       0   yes  kernel      y  y  y  n  y  y  y  n  y  y  y  y  y  n  n  y  y  n\n"
      "TCP       2304      1  295808   yes     192   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y  y\n";
  EXPECT_EQ(proc::parse_protocols_tcp_pressure(protocols), true);
  std::string calm = protocols;
  calm.replace(calm.find("295808   yes"), 12, "295808    no");
  EXPECT_EQ(proc::parse_protocols_tcp_pressure(calm), false);
  EXPECT_EQ(proc::parse_protocols_tcp_pressure("TCP 2304 1 5 yes\n"), std::nullopt);  // no header: no column
  EXPECT_EQ(proc::parse_protocols_tcp_pressure(""), std::nullopt);
  EXPECT_TRUE(proc::tcp_memory_pressure().has_value());
  // This machine's own files parse (a kernel without them would make these nullopt, not crash).
  EXPECT_TRUE(proc::tcp_memory_pages().has_value());
  EXPECT_GT(proc::tcp_mem_mark(1).value_or(0), proc::tcp_mem_mark(0).value_or(0));
}

TEST(Proc, ReadsAnotherThreadsCpuClock) {
  std::atomic<int> tid{0};
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    tid = static_cast<int>(::gettid());
    uint64_t x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x * 31 + 7;
    EXPECT_NE(x, 1u);
  });
  while (!tid) std::this_thread::yield();
  auto before = proc::thread_cpu_ns(tid);
  ASSERT_TRUE(before);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::optional<uint64_t> after;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    after = proc::thread_cpu_ns(tid);
  } while (after && *after < *before + 10'000'000 && std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(after);
  EXPECT_GE(*after, *before + 10'000'000) << "a spinning thread used no CPU in 5 s";
  CpuSplit split;
  CpuTimes times;
  EXPECT_TRUE(proc::sample_thread(tid, split, times));
  EXPECT_GE(times.total_ns(), *after);
  int gone = tid;
  stop = true;
  busy.join();
  // join() returns when the thread clears its TID, a moment before the kernel reaps it: until
  // then its clock and /proc entry may still answer. Bounded: 2 s.
  bool sampled = true;
  for (int i = 0; i < 2000 && sampled; ++i) {
    CpuTimes probe = times;
    sampled = proc::sample_thread(gone, split, probe);
    if (sampled) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_FALSE(sampled) << "a thread gone for 2 s could still be sampled";
  CpuTimes kept = times;
  EXPECT_FALSE(proc::sample_thread(gone, split, times));
  EXPECT_EQ(times.total_ns(), kept.total_ns());
}

TEST(Proc, ProcessNumbersArePlausible) {
  EXPECT_GT(proc::rss_bytes(), 100'000u);
  EXPECT_GE(proc::open_fds(), 3u);
  EXPECT_GE(proc::thread_count(), 1u);
  EXPECT_GT(proc::process_cpu().total_ns(), 0u);
}

// ---- rate windows ----------------------------------------------------------------------------

TEST(Rates, PerSecond) {
  EXPECT_DOUBLE_EQ(per_second(100, 1100, 500'000'000), 2000.0);
  EXPECT_EQ(per_second(100, 100, 1'000'000'000), 0.0);
  EXPECT_EQ(per_second(200, 100, 1'000'000'000), 0.0);  // a value that went back is no rate
  EXPECT_EQ(per_second(0, 100, 0), 0.0);                 // an empty window
  EXPECT_EQ(per_second(0, 100, -5), 0.0);
}

SnapshotLayout two_workers() {
  SnapshotLayout layout;
  layout.program = "proxy";
  layout.mode = "splice";
  layout.pid = 42;
  layout.interval_s = 1;
  layout.workers = {{0, 100}, {1, 101}};
  layout.threads = {{"acceptor", 102}, {"main", 42}, {"stats", 103}};
  layout.listeners = {"127.0.0.1:9998"};
  layout.remotes = {"127.0.0.1:9999"};
  return layout;
}

RawSample sample_at(int64_t t_ns, uint64_t w0_bytes, uint64_t w1_bytes, uint64_t cpu_ns) {
  RawSample s;
  s.mono_ns = t_ns;
  s.unix_s = 1.7e9 + static_cast<double>(t_ns) / 1e9;
  CounterValues a, b;
  a.bytes_in = w0_bytes / 2;
  a.bytes_out = w0_bytes - w0_bytes / 2;
  a.connections_total = t_ns / 1'000'000'000 + 1;
  b.bytes_in = w1_bytes;
  b.connections_total = 3;
  b.connections_closed = 1;
  s.workers = {a, b};
  CpuTimes busy{cpu_ns * 3 / 4, cpu_ns / 4, 10, 2};
  CpuTimes idle{cpu_ns / 100, 0, 1, 0};
  s.worker_cpu = {busy, idle};
  s.thread_cpu = {idle, idle, idle};
  s.listeners = {{10, 1, 0}};
  s.remotes = {{1, 1, 2, 30, 1, 0, 0, 0}};
  s.process_cpu = CpuTimes{busy.user_ns + 4 * idle.user_ns, busy.sys_ns, 14, 2};
  s.rss_bytes = 1 << 20;
  s.open_fds = 12;
  s.threads = 5;
  return s;
}

TEST(Rates, SnapshotUsesTheLastClosedWindowAndAveragesSinceStart) {
  const int64_t s = 1'000'000'000;
  RawSample start = sample_at(0, 0, 0, 0);
  RawSample begin = sample_at(4 * s, 4'000, 400, 2 * s);
  RawSample end = sample_at(5 * s, 6'000, 500, 2 * s + s / 2);  // 2000 B/s and 100 B/s, 50% CPU
  RawSample now = sample_at(5 * s + s / 2, 7'000, 550, 3 * s);
  Snapshot snap = make_snapshot(two_workers(), start, begin, end, now);

  EXPECT_DOUBLE_EQ(snap.uptime_s, 5.5);
  EXPECT_DOUBLE_EQ(snap.window_s, 1.0);
  ASSERT_EQ(snap.workers.size(), 2u);
  EXPECT_EQ(snap.workers[0].bytes, 7'000u);  // cumulative: from now
  EXPECT_DOUBLE_EQ(snap.workers[0].bytes_per_s, 2'000.0);
  EXPECT_DOUBLE_EQ(snap.workers[1].bytes_per_s, 100.0);
  EXPECT_NEAR(snap.workers[0].bytes_per_s_avg, 7'000 / 5.5, 1e-9);
  EXPECT_EQ(snap.totals.bytes, 7'550u);
  EXPECT_DOUBLE_EQ(snap.totals.bytes_per_s, 2'100.0);
  EXPECT_NEAR(snap.totals.bytes_per_s_avg, 7'550 / 5.5, 1e-9);
  EXPECT_EQ(snap.workers[1].connections_active, 2u);
  EXPECT_EQ(snap.totals.connections_total, 6u + 3u);

  // Worker 0 used 0.5 s of CPU in the 1 s window: 37.5% user, 12.5% system.
  EXPECT_NEAR(snap.workers[0].cpu.user_pct, 37.5, 1e-9);
  EXPECT_NEAR(snap.workers[0].cpu.sys_pct, 12.5, 1e-9);
  EXPECT_NEAR(snap.workers[0].cpu.user_s, 2.25, 1e-9);
  EXPECT_NEAR(snap.workers[0].cpu.sys_s, 0.75, 1e-9);
  // Totals are the sum of every thread.
  double sum_user = 0, sum_pct = 0;
  for (auto& w : snap.workers) sum_user += w.cpu.user_s, sum_pct += w.cpu.user_pct;
  for (auto& t : snap.threads) sum_user += t.cpu.user_s, sum_pct += t.cpu.user_pct;
  EXPECT_NEAR(snap.totals.cpu.user_s, sum_user, 1e-9);
  EXPECT_NEAR(snap.totals.cpu.user_pct, sum_pct, 1e-9);
  EXPECT_EQ(snap.threads[2].name, "stats");
  EXPECT_EQ(snap.listeners[0].accepted, 10u);
  EXPECT_EQ(snap.process.open_fds, 12u);
}

TEST(Rates, BeforeTheFirstIntervalAndWithMissingData) {
  RawSample start = sample_at(0, 0, 0, 0);
  Snapshot snap = make_snapshot(two_workers(), start, start, start, start);
  EXPECT_EQ(snap.window_s, 0.0);
  EXPECT_EQ(snap.totals.bytes_per_s, 0.0);
  EXPECT_EQ(snap.workers[0].cpu.user_pct, 0.0);
  // Samples shorter than the layout (never expected) read as zeros instead of crashing.
  RawSample empty;
  empty.mono_ns = 1;
  Snapshot odd = make_snapshot(two_workers(), empty, empty, empty, empty);
  EXPECT_EQ(odd.workers.size(), 2u);
  EXPECT_EQ(odd.threads.size(), 3u);
}

// ---- the metric table and JSON ---------------------------------------------------------------

// Flattens a rendered snapshot into table names: arrays become "[]".
void leaves(const json& j, const std::string& prefix, std::map<std::string, json>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) leaves(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (j.is_array()) {
    for (const auto& e : j) leaves(e, prefix + "[]", out);
  } else {
    out[prefix] = j;
  }
}

Snapshot example_snapshot() {
  const int64_t s = 1'000'000'000;
  return make_snapshot(two_workers(), sample_at(0, 0, 0, 0), sample_at(s, 10, 10, s / 2),
                       sample_at(2 * s, 3'000'000, 20, s), sample_at(2 * s, 3'000'000, 20, s));
}

TEST(MetricTable, NamesAreUniqueAndDescribed) {
  std::set<std::string> names;
  for (const auto& m : metric_table()) {
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate " << m.name;
    EXPECT_FALSE(m.description.empty()) << m.name;
    EXPECT_EQ(m.description.find('|'), std::string::npos) << "breaks the Markdown table: " << m.name;
  }
  // Every counter of SP_WORKER_COUNTERS is there, with its unit and description.
#define SP_EXPECT_COUNTER(NAME, UNIT, DESCRIPTION)                                                    \
  {                                                                                                  \
    auto it = std::find_if(metric_table().begin(), metric_table().end(),                            \
                           [](const MetricInfo& m) { return m.name == "workers[].counters." #NAME; }); \
    ASSERT_NE(it, metric_table().end()) << #NAME;                                                   \
    EXPECT_EQ(it->unit, UNIT);                                                                       \
    EXPECT_EQ(it->description, DESCRIPTION);                                                         \
  }
  SP_WORKER_COUNTERS(SP_EXPECT_COUNTER)
#undef SP_EXPECT_COUNTER
  // The contract names of issue 3.
  for (const char* name : {"version", "mode", "uptime_s", "totals.connections_active", "totals.connections_total",
                           "totals.bytes", "totals.bytes_per_s", "totals.bytes_per_s_avg", "totals.cpu.user_pct",
                           "totals.cpu.sys_pct", "totals.cpu.user_s", "totals.cpu.sys_s", "process.rss_bytes",
                           "process.open_fds", "process.cpu.user_s", "process.cpu.sys_s", "workers[].id", "workers[].tid",
                           "workers[].connections_active", "workers[].connections_total", "workers[].bytes",
                           "workers[].bytes_per_s", "workers[].cpu.user_pct", "workers[].cpu.sys_pct",
                           "workers[].cpu.user_s", "workers[].cpu.sys_s", "workers[].ctx_switches.voluntary",
                           "workers[].ctx_switches.involuntary", "threads[].cpu.user_pct",
                           "threads[].ctx_switches.voluntary", "listeners[].address", "listeners[].accepted",
                           "listeners[].refused", "listeners[].accept_pauses"})
    EXPECT_TRUE(names.count(name)) << name;
}

TEST(MetricTable, JsonHasExactlyTheTableWithTheDeclaredTypes) {
  json j = json::parse(render_json(example_snapshot()));
  std::map<std::string, json> found;
  leaves(j, "", found);
  std::set<std::string> table;
  for (const auto& m : metric_table()) {
    table.insert(m.name);
    auto it = found.find(m.name);
    ASSERT_NE(it, found.end()) << "in the table but not in the JSON: " << m.name;
    switch (m.type) {
      case MetricType::kInteger: EXPECT_TRUE(it->second.is_number_integer()) << m.name; break;
      case MetricType::kNumber: EXPECT_TRUE(it->second.is_number()) << m.name; break;
      case MetricType::kString: EXPECT_TRUE(it->second.is_string()) << m.name; break;
    }
  }
  for (const auto& [name, value] : found) EXPECT_TRUE(table.count(name)) << "in the JSON but not in the table: " << name;
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["mode"], "splice");
  EXPECT_EQ(j["workers"].size(), 2u);
  EXPECT_EQ(j["threads"][0]["name"], "acceptor");
  EXPECT_EQ(j["totals"]["bytes"], 3'000'020u);
}

TEST(MetricTable, NumbersStayExactAndFinite) {
  Snapshot snap = example_snapshot();
  snap.workers[0].counters.eagain = std::numeric_limits<uint64_t>::max();
  snap.workers[0].bytes_per_s = std::numeric_limits<double>::infinity();
  snap.workers[1].bytes_per_s = std::nan("");
  snap.totals.cpu.user_pct = 12.345678;
  snap.totals.cpu.user_s = 1.23456789;
  std::string text = render_json(snap);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  json j = json::parse(text);
  EXPECT_EQ(j["workers"][0]["counters"]["eagain"].get<uint64_t>(), (uint64_t{1} << 53) - 1);
  EXPECT_EQ(j["workers"][0]["bytes_per_s"], 0.0);
  EXPECT_EQ(j["workers"][1]["bytes_per_s"], 0.0);
  EXPECT_DOUBLE_EQ(j["totals"]["cpu"]["user_pct"].get<double>(), 12.35);
  EXPECT_DOUBLE_EQ(j["totals"]["cpu"]["user_s"].get<double>(), 1.234568);
}

TEST(MetricTable, ErrorsAndSchemaAreValidJson) {
  std::string binary("\x00\xff\xfe\"\\\n\x01zz", 9);
  json e = json::parse(render_error("bad: " + binary));
  std::string message = e["error"];
  for (char c : message) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
  json schema = json::parse(render_schema());
  EXPECT_EQ(schema["version"], kSchemaVersion);
  EXPECT_EQ(schema["metrics"].size(), metric_table().size());
  EXPECT_EQ(schema["metrics"][0]["name"], "version");
  for (const json& m : schema["metrics"]) {
    std::string kind = m["kind"];
    EXPECT_TRUE(kind == "counter" || kind == "gauge" || kind == "label") << m.dump();
    EXPECT_EQ(kind == "label", m["type"] == "string" || m["unit"] == "") << "strings and ids are labels: " << m.dump();
    EXPECT_FALSE(m["prometheus"].get<std::string>().empty()) << m.dump();
  }
}

TEST(MetricTable, TextAndMarkdownListEveryMetric) {
  std::string text = metrics_text(), markdown = metrics_markdown();
  for (const auto& m : metric_table()) {
    EXPECT_NE(text.find(m.name + " "), std::string::npos) << m.name;
    EXPECT_NE(markdown.find("| `" + m.name + "` |"), std::string::npos) << m.name;
  }
}

// ---- the sampler on live threads -------------------------------------------------------------

TEST(Sampler, ReadsCountersAndThreads) {
  WorkerCounters counters;
  counters.bytes_in.add(100);
  counters.connections_total.add(2);
  counters.connections_closed.add(1);
  Counter accepted;
  accepted.add(7);
  StatsSource source;
  source.program = "test";
  source.mode = "rw";
  source.workers.push_back({0, static_cast<int>(::gettid()), &counters});
  source.threads.push_back({"gone", 999'999'999});  // no such thread: zeros, no crash
  source.listeners.push_back({"127.0.0.1:1", &accepted, nullptr, nullptr});
  Sampler sampler(source, 1.0);
  sampler.add_thread("extra", static_cast<int>(::gettid()));
  RawSample s = sampler.take();
  ASSERT_EQ(s.workers.size(), 1u);
  EXPECT_EQ(s.workers[0].bytes_in, 100u);
  EXPECT_EQ(s.workers[0].connections_active(), 1u);
  EXPECT_GT(s.worker_cpu[0].total_ns(), 0u);
  ASSERT_EQ(s.thread_cpu.size(), 2u);
  EXPECT_EQ(s.thread_cpu[0].total_ns(), 0u);
  EXPECT_GT(s.thread_cpu[1].total_ns(), 0u);
  EXPECT_EQ(s.listeners[0].accepted, 7u);
  EXPECT_GE(s.open_fds, 3u);
  EXPECT_EQ(sampler.layout().threads.size(), 2u);
  EXPECT_EQ(sampler.layout().threads[1].name, "extra");
}

}  // namespace
}  // namespace sp::metrics
