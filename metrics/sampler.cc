#include "metrics/sampler.h"

#include <time.h>
#include <unistd.h>

#include "common/clock.h"

namespace sp::metrics {

Sampler::Sampler(StatsSource source, double interval_s) : source_(std::move(source)) {
  layout_.program = source_.program;
  layout_.mode = source_.mode;
  layout_.mode_effective = source_.mode_effective.empty() ? source_.mode : source_.mode_effective;
  layout_.pid = static_cast<int>(::getpid());
  layout_.interval_s = interval_s;
  for (const auto& w : source_.workers) layout_.workers.push_back({w.id, w.tid});
  for (const auto& t : source_.threads) layout_.threads.push_back({t.name, t.tid});
  for (const auto& l : source_.listeners) layout_.listeners.push_back(l.address);
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
  s.worker_cpu.resize(source_.workers.size());
  for (size_t i = 0; i < source_.workers.size(); ++i) {
    const auto& w = source_.workers[i];
    s.workers.push_back(w.counters ? CounterValues::read(*w.counters) : CounterValues{});
    if (i < last_.worker_cpu.size()) s.worker_cpu[i] = last_.worker_cpu[i];
    proc::sample_thread(w.tid, worker_splits_[i], s.worker_cpu[i]);
  }
  s.thread_cpu.resize(source_.threads.size());
  for (size_t i = 0; i < source_.threads.size(); ++i) {
    if (i < last_.thread_cpu.size()) s.thread_cpu[i] = last_.thread_cpu[i];
    proc::sample_thread(source_.threads[i].tid, thread_splits_[i], s.thread_cpu[i]);
  }
  for (const auto& l : source_.listeners) {
    ListenerValues v;
    if (l.accepted) v.accepted = l.accepted->get();
    if (l.refused) v.refused = l.refused->get();
    if (l.accept_pauses) v.accept_pauses = l.accept_pauses->get();
    s.listeners.push_back(v);
  }
  s.process_cpu = proc::process_cpu();
  s.rss_bytes = proc::rss_bytes();
  s.open_fds = proc::open_fds();
  s.threads = proc::thread_count();
  last_ = s;
  return s;
}

}  // namespace sp::metrics
