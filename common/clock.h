// Monotonic time in nanoseconds: the one clock every timer, rate and latency uses.
#pragma once

#include <time.h>

#include <cstdint>

namespace sp {

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

}  // namespace sp
