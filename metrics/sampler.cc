#include "metrics/sampler.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fd_reserve.h"

namespace sp::metrics {

Sampler::Sampler(StatsSource source, double interval_s) : source_(std::move(source)) {
  layout_.program = source_.program;
  layout_.mode = source_.mode;
  layout_.mode_effective = source_.mode_effective.empty() ? source_.mode : source_.mode_effective;
  layout_.uring_features = source_.uring_features;
  layout_.uring_coalesce_us = source_.uring_coalesce_us;
  layout_.pid = static_cast<int>(::getpid());
  layout_.interval_s = interval_s;
  for (const auto& w : source_.workers) layout_.workers.push_back({w.id, w.tid, w.mode_effective});
  for (const auto& t : source_.threads) layout_.threads.push_back({t.name, t.tid});
  for (const auto& l : source_.listeners) layout_.listeners.push_back(l.address);
  for (const auto& r : source_.remotes) layout_.remotes.push_back(r.address);
  worker_splits_.resize(source_.workers.size());
  thread_splits_.resize(source_.threads.size());
}

void Sampler::add_thread(std::string name, int tid) {
  source_.threads.push_back({name, tid});
  layout_.threads.push_back({std::move(name), tid});
  thread_splits_.emplace_back();
}

RawSample Sampler::take() {
  RawSample s;
  s.mono_ns = now_ns();
  timespec wall;
  ::clock_gettime(CLOCK_REALTIME, &wall);
  s.unix_s = static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) / 1e9;

  s.workers.reserve(source_.workers.size());
  for (const auto& w : source_.workers)
    s.workers.push_back(w.counters ? CounterValues::read(*w.counters) : CounterValues{});
  for (const auto& l : source_.listeners) {
    ListenerValues v;
    if (l.accepted) v.accepted = l.accepted->get();
    if (l.refused) v.refused = l.refused->get();
    if (l.accept_pauses) v.accept_pauses = l.accept_pauses->get();
    if (l.over_capacity) v.over_capacity = l.over_capacity->get();
    if (l.denied) v.denied = l.denied->get();
    if (l.over_source_cap) v.over_source_cap = l.over_source_cap->get();
    if (l.over_source_rate) v.over_source_rate = l.over_source_rate->get();
    s.listeners.push_back(v);
  }
  auto get = [](const Counter* c) { return c ? c->get() : 0; };
  for (const auto& r : source_.remotes)
    s.remotes.push_back({get(r.up), get(r.weight), get(r.active), get(r.connects), get(r.connect_failures),
                         get(r.checks_passed), get(r.checks_failed), get(r.went_down)});
  s.process_cpu = proc::process_cpu();
  bool read = false;
  {
    fd_reserve::Allocation making_descriptors;
    read = read_proc(s);
  }
  // Out of descriptors the snapshot would show 0 open descriptors and stale CPU exactly when it
  // matters: read again on the reserved descriptor (each read opens and closes one at a time).
  if (!read) fd_reserve::use([&] { read_proc(s); });
  last_ = s;
  return s;
}

bool Sampler::read_proc(RawSample& s) {
  s.worker_cpu.assign(source_.workers.size(), CpuTimes{});
  for (size_t i = 0; i < source_.workers.size(); ++i) {
    if (i < last_.worker_cpu.size()) s.worker_cpu[i] = last_.worker_cpu[i];
    proc::sample_thread(source_.workers[i].tid, worker_splits_[i], s.worker_cpu[i]);
  }
  s.thread_cpu.assign(source_.threads.size(), CpuTimes{});
  for (size_t i = 0; i < source_.threads.size(); ++i) {
    if (i < last_.thread_cpu.size()) s.thread_cpu[i] = last_.thread_cpu[i];
    proc::sample_thread(source_.threads[i].tid, thread_splits_[i], s.thread_cpu[i]);
  }
  s.rss_bytes = proc::rss_bytes();
  s.open_fds = proc::open_fds();
  static const double started = proc::start_time_unix_s();  // once: it cannot change
  s.start_time_unix_s = started;
  rlimit fds{};
  if (::getrlimit(RLIMIT_NOFILE, &fds) == 0) s.max_fds = fds.rlim_cur;
  s.threads = proc::thread_count();
  // Machine-wide, beside the process: what every TCP socket holds bounds all of them (and
  // --mode sockmap's two-way bulk leaves some of it charged for good, docs/sockmap.md).
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  s.host_tcp_memory_bytes = proc::tcp_memory_pages().value_or(0) * page;
  s.host_tcp_pressure_bytes = proc::tcp_mem_mark(1).value_or(0) * page;
  s.host_tcp_under_pressure = proc::tcp_memory_pressure().value_or(false) ? 1 : 0;
  return s.rss_bytes != 0 && s.open_fds != 0 && s.threads != 0;
}

}  // namespace sp::metrics
