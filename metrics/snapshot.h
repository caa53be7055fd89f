// A stats snapshot in two steps: RawSample holds cumulative numbers read at one instant (counters,
// CPU times, memory); make_snapshot() turns samples into what is reported: cumulative values from
// the latest sample, rates over the last closed sampling interval, averages since start.
//
// Pure data and pure functions: no clocks, no /proc, no threads (the Sampler does that).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/counters.h"
#include "metrics/proc.h"

namespace sp::metrics {

// Plain copies of one worker's counters (SP_WORKER_COUNTERS), read with relaxed loads.
struct CounterValues {
#define SP_COUNTER_VALUE(name, unit, description) uint64_t name = 0;
  SP_WORKER_COUNTERS(SP_COUNTER_VALUE)
#undef SP_COUNTER_VALUE
  static CounterValues read(const WorkerCounters& counters);
  uint64_t bytes() const { return bytes_in + bytes_out; }
  uint64_t connections_active() const {
    return connections_total > connections_closed ? connections_total - connections_closed : 0;
  }
};

struct ListenerValues {
  uint64_t accepted = 0;
  uint64_t refused = 0;
  uint64_t accept_pauses = 0;
  uint64_t over_capacity = 0;  // the refusals by reason (the rest: out of descriptors)
  uint64_t denied = 0;
  uint64_t over_source_cap = 0;
  uint64_t over_source_rate = 0;
};

// One backend of the proxy (-r): gauges up (0/1), weight and active; counters for the rest.
struct RemoteValues {
  uint64_t up = 0;
  uint64_t weight = 0;
  uint64_t active = 0;
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t checks_passed = 0;
  uint64_t checks_failed = 0;
  uint64_t went_down = 0;
};

// Cumulative numbers read at one instant. Vectors follow the order of SnapshotLayout.
struct RawSample {
  int64_t mono_ns = 0;  // CLOCK_MONOTONIC
  double unix_s = 0;    // wall clock, for logs
  std::vector<CounterValues> workers;
  std::vector<CpuTimes> worker_cpu;
  std::vector<CpuTimes> thread_cpu;  // the other named threads (acceptor, stats, main)
  std::vector<ListenerValues> listeners;
  std::vector<RemoteValues> remotes;
  CpuTimes process_cpu;
  uint64_t rss_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
  uint64_t threads = 0;
  double start_time_unix_s = 0;
  uint64_t host_tcp_memory_bytes = 0;  // the whole machine's, not only this process's sockets
  uint64_t host_tcp_pressure_bytes = 0;
  uint64_t host_tcp_under_pressure = 0;
};

// What does not change while the program runs: names and ids.
struct SnapshotLayout {
  struct WorkerInfo {
    int id = 0;
    int tid = 0;
    std::string mode_effective = {};  // empty: the process's
  };
  struct ThreadInfo {
    std::string name;
    int tid = 0;
  };
  std::string program;
  std::string mode;
  std::string mode_effective;
  std::string uring_features;
  unsigned uring_coalesce_us = 0;
  int pid = 0;
  double interval_s = 1;
  std::vector<WorkerInfo> workers;
  std::vector<ThreadInfo> threads;
  std::vector<std::string> listeners;
  std::vector<std::string> remotes;  // the backends' HOST:PORT
};

struct CpuView {
  double user_s = 0;    // cumulative since the thread started
  double sys_s = 0;
  double user_pct = 0;  // % of one core over the last interval
  double sys_pct = 0;
  uint64_t voluntary = 0;
  uint64_t involuntary = 0;
};

struct WorkerView {
  int id = 0;
  int tid = 0;
  std::string mode_effective;
  uint64_t connections_active = 0;
  uint64_t connections_total = 0;
  uint64_t bytes = 0;
  double bytes_per_s = 0;
  double bytes_per_s_avg = 0;
  CpuView cpu;
  CounterValues counters;
};

struct ThreadView {
  std::string name;
  int tid = 0;
  CpuView cpu;
};

struct ListenerView : ListenerValues {
  std::string address;
  double accepted_per_s = 0;
};

struct RemoteView : RemoteValues {
  std::string address;
};

struct TotalsView {
  uint64_t connections_active = 0;
  uint64_t connections_total = 0;
  double connections_per_s = 0;
  uint64_t bytes = 0;
  double bytes_per_s = 0;
  double bytes_per_s_avg = 0;
  CpuView cpu;  // the sum over workers[] and threads[]
};

struct ProcessView {
  double start_time_unix_s = 0;
  uint64_t rss_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
  uint64_t threads = 0;
  uint64_t host_tcp_memory_bytes = 0;
  uint64_t host_tcp_pressure_bytes = 0;
  uint64_t host_tcp_under_pressure = 0;
  CpuView cpu;  // the kernel's account for the whole process
};

struct Snapshot {
  std::string program;
  std::string mode;
  std::string mode_effective;
  std::string uring_features;
  unsigned uring_coalesce_us = 0;
  int pid = 0;
  double uptime_s = 0;
  double time_unix_s = 0;
  double interval_s = 0;
  double window_s = 0;  // the interval the rates were measured over
  TotalsView totals;
  ProcessView process;
  std::vector<WorkerView> workers;
  std::vector<ThreadView> threads;
  std::vector<ListenerView> listeners;
  std::vector<RemoteView> remotes;
};

// Per second between two cumulative values; 0 for an empty window or a value that went back.
double per_second(uint64_t before, uint64_t after, int64_t window_ns);

// Cumulative values come from `now`, rates from the window [begin, end], averages from
// [start, now]. The samples must share the layout (same number of workers, threads, listeners).
Snapshot make_snapshot(const SnapshotLayout& layout, const RawSample& start, const RawSample& begin,
                       const RawSample& end, const RawSample& now);

}  // namespace sp::metrics
