// A stand-in for a server program, for tests of the stats thread: one "worker" thread that keeps
// counting, one listener, and the StatsSource that describes them.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "metrics/counters.h"
#include "metrics/sampler.h"

namespace sp::metrics {

// A stand-in for a server: one "worker" thread that keeps counting.
class FakeProgram {
 public:
  FakeProgram() {
    worker_ = std::thread([this] {
      tid_ = static_cast<int>(::gettid());
      while (!stop_.load(std::memory_order_relaxed)) {
        counters_.bytes_in.add(1000);
        counters_.read_calls.add();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    while (!tid_) std::this_thread::yield();
  }
  ~FakeProgram() {
    stop_ = true;
    worker_.join();
  }
  StatsSource source() {
    StatsSource s;
    s.program = "fake";
    s.mode = "rw";
    s.workers.push_back({0, tid_, &counters_});
    s.threads.push_back({"main", static_cast<int>(::getpid())});
    s.listeners.push_back({"127.0.0.1:1", &accepted_, &refused_, &pauses_});
    return s;
  }

 private:
  WorkerCounters counters_;
  Counter accepted_, refused_, pauses_;
  std::atomic<int> tid_{0};
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

}  // namespace sp::metrics
