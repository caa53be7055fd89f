#include "metrics/snapshot.h"

#include <algorithm>

namespace sp::metrics {
namespace {

constexpr double kNsPerSecond = 1e9;

CpuTimes sum(const std::vector<CpuTimes>& a, const std::vector<CpuTimes>& b) {
  CpuTimes total;
  for (const auto* list : {&a, &b})
    for (const CpuTimes& t : *list) {
      total.user_ns += t.user_ns;
      total.sys_ns += t.sys_ns;
      total.voluntary += t.voluntary;
      total.involuntary += t.involuntary;
    }
  return total;
}

CpuView cpu_view(const CpuTimes& begin, const CpuTimes& end, const CpuTimes& now, int64_t window_ns) {
  CpuView v;
  v.user_s = static_cast<double>(now.user_ns) / kNsPerSecond;
  v.sys_s = static_cast<double>(now.sys_ns) / kNsPerSecond;
  // ns of CPU per s of wall clock / 1e9 * 100 = % of one core.
  v.user_pct = per_second(begin.user_ns, end.user_ns, window_ns) / kNsPerSecond * 100;
  v.sys_pct = per_second(begin.sys_ns, end.sys_ns, window_ns) / kNsPerSecond * 100;
  v.voluntary = now.voluntary;
  v.involuntary = now.involuntary;
  return v;
}

template <typename T>
const T& at(const std::vector<T>& v, size_t i) {
  static const T empty{};
  return i < v.size() ? v[i] : empty;
}

}  // namespace

CounterValues CounterValues::read(const WorkerCounters& counters) {
  CounterValues v;
  // connections_closed before connections_total, so active never looks negative.
  v.connections_closed = counters.connections_closed.get();
#define SP_READ_COUNTER(name, unit, description) \
  if (&WorkerCounters::name != &WorkerCounters::connections_closed) v.name = counters.name.get();
  SP_WORKER_COUNTERS(SP_READ_COUNTER)
#undef SP_READ_COUNTER
  return v;
}

double per_second(uint64_t before, uint64_t after, int64_t window_ns) {
  if (window_ns <= 0 || after <= before) return 0;
  return static_cast<double>(after - before) * kNsPerSecond / static_cast<double>(window_ns);
}

Snapshot make_snapshot(const SnapshotLayout& layout, const RawSample& start, const RawSample& begin,
                       const RawSample& end, const RawSample& now) {
  Snapshot s;
  s.program = layout.program;
  s.mode = layout.mode;
  s.mode_effective = layout.mode_effective.empty() ? layout.mode : layout.mode_effective;
  s.uring_features = layout.uring_features;
  s.uring_coalesce_us = layout.uring_coalesce_us;
  s.pid = layout.pid;
  s.interval_s = layout.interval_s;
  const int64_t window_ns = end.mono_ns - begin.mono_ns;
  const int64_t uptime_ns = now.mono_ns - start.mono_ns;
  s.uptime_s = static_cast<double>(std::max<int64_t>(uptime_ns, 0)) / kNsPerSecond;
  s.window_s = static_cast<double>(std::max<int64_t>(window_ns, 0)) / kNsPerSecond;
  s.time_unix_s = now.unix_s;

  uint64_t bytes_begin = 0, bytes_end = 0, bytes_start = 0, conns_begin = 0, conns_end = 0;
  for (size_t i = 0; i < layout.workers.size(); ++i) {
    const CounterValues& c = at(now.workers, i);
    WorkerView w;
    w.id = layout.workers[i].id;
    w.tid = layout.workers[i].tid;
    w.mode_effective = layout.workers[i].mode_effective.empty() ? s.mode_effective : layout.workers[i].mode_effective;
    w.counters = c;
    w.connections_active = c.connections_active();
    w.connections_total = c.connections_total;
    w.bytes = c.bytes();
    w.bytes_per_s = per_second(at(begin.workers, i).bytes(), at(end.workers, i).bytes(), window_ns);
    w.bytes_per_s_avg = per_second(at(start.workers, i).bytes(), c.bytes(), uptime_ns);
    w.cpu = cpu_view(at(begin.worker_cpu, i), at(end.worker_cpu, i), at(now.worker_cpu, i), window_ns);
    s.totals.connections_active += w.connections_active;
    s.totals.connections_total += w.connections_total;
    s.totals.bytes += w.bytes;
    bytes_begin += at(begin.workers, i).bytes();
    bytes_end += at(end.workers, i).bytes();
    bytes_start += at(start.workers, i).bytes();
    conns_begin += at(begin.workers, i).connections_total;
    conns_end += at(end.workers, i).connections_total;
    s.workers.push_back(w);
  }
  s.totals.bytes_per_s = per_second(bytes_begin, bytes_end, window_ns);
  s.totals.bytes_per_s_avg = per_second(bytes_start, s.totals.bytes, uptime_ns);
  s.totals.connections_per_s = per_second(conns_begin, conns_end, window_ns);

  for (size_t i = 0; i < layout.threads.size(); ++i) {
    ThreadView t;
    t.name = layout.threads[i].name;
    t.tid = layout.threads[i].tid;
    t.cpu = cpu_view(at(begin.thread_cpu, i), at(end.thread_cpu, i), at(now.thread_cpu, i), window_ns);
    s.threads.push_back(std::move(t));
  }
  s.totals.cpu = cpu_view(sum(begin.worker_cpu, begin.thread_cpu), sum(end.worker_cpu, end.thread_cpu),
                          sum(now.worker_cpu, now.thread_cpu), window_ns);

  s.process.rss_bytes = now.rss_bytes;
  s.process.open_fds = now.open_fds;
  s.process.max_fds = now.max_fds;
  s.process.start_time_unix_s = now.start_time_unix_s;
  s.process.threads = now.threads;
  s.process.host_tcp_memory_bytes = now.host_tcp_memory_bytes;
  s.process.host_tcp_pressure_bytes = now.host_tcp_pressure_bytes;
  s.process.host_tcp_under_pressure = now.host_tcp_under_pressure;
  s.process.cpu = cpu_view(begin.process_cpu, end.process_cpu, now.process_cpu, window_ns);

  for (size_t i = 0; i < layout.listeners.size(); ++i) {
    const ListenerValues& l = at(now.listeners, i);
    ListenerView v;
    static_cast<ListenerValues&>(v) = l;
    v.address = layout.listeners[i];
    v.accepted_per_s = per_second(at(begin.listeners, i).accepted, at(end.listeners, i).accepted, window_ns);
    s.listeners.push_back(std::move(v));
  }
  for (size_t i = 0; i < layout.remotes.size(); ++i) {
    RemoteView v;
    static_cast<RemoteValues&>(v) = i < now.remotes.size() ? now.remotes[i] : RemoteValues{};
    v.address = layout.remotes[i];
    s.remotes.push_back(std::move(v));
  }
  return s;
}

}  // namespace sp::metrics
