// Reads everything a snapshot needs at one instant: the workers' counters (relaxed loads of their
// single-writer counters, never a lock), each thread's CPU time and context switches (/proc and the
// per-thread CPU clocks, without the threads' help), and the process's memory and descriptors.
//
// Thread context: one sampling thread (the stats thread); the counters it points at must outlive
// it. The threads it measures may be anywhere.
#pragma once

#include <string>
#include <vector>

#include "metrics/counters.h"
#include "metrics/proc.h"
#include "metrics/snapshot.h"

namespace sp::metrics {

// What a program exposes to the stats thread.
struct StatsSource {
  struct Worker {
    int id = 0;
    int tid = 0;
    const WorkerCounters* counters = nullptr;
    std::string mode_effective = {};  // empty: the process's
  };
  struct Thread {
    std::string name;
    int tid = 0;
  };
  struct Listener {
    std::string address;
    const Counter* accepted = nullptr;
    const Counter* refused = nullptr;
    const Counter* accept_pauses = nullptr;
    const Counter* over_capacity = nullptr;
    const Counter* denied = nullptr;
    const Counter* over_source_cap = nullptr;
    const Counter* over_source_rate = nullptr;
  };
  std::string program;
  std::string mode;
  std::string mode_effective;  // empty: the same as mode
  std::string uring_features;  // --mode uring: the io_uring features in effect, comma-separated
  unsigned uring_coalesce_us = 0;  // --mode uring: the coalescing wait in effect (--uring-coalesce)
  std::vector<Worker> workers;
  std::vector<Thread> threads;  // besides the workers: acceptor, main (the stats thread adds itself)
  std::vector<Listener> listeners;
  struct Remote {
    std::string address;
    const Counter* up = nullptr;
    const Counter* weight = nullptr;
    const Counter* active = nullptr;
    const Counter* connects = nullptr;
    const Counter* connect_failures = nullptr;
    const Counter* checks_passed = nullptr;
    const Counter* checks_failed = nullptr;
    const Counter* went_down = nullptr;
  };
  std::vector<Remote> remotes;  // the proxy's backends
};

class Sampler {
 public:
  Sampler(StatsSource source, double interval_s);
  // Before the first take(): one more thread to measure (the stats thread names itself).
  void add_thread(std::string name, int tid);
  RawSample take();
  const SnapshotLayout& layout() const { return layout_; }

 private:
  StatsSource source_;
  SnapshotLayout layout_;
  std::vector<CpuSplit> worker_splits_;
  std::vector<CpuSplit> thread_splits_;
  // The per-thread CPU and process numbers from /proc; false if a file could not be opened.
  bool read_proc(RawSample& s);

  RawSample last_;  // a thread that has exited keeps its last CPU numbers
};

}  // namespace sp::metrics
