// EXPERIMENT (reverted in the next commit): a worker's sockmap sessions share what --memory-budget
// leaves as their kernel-queue hold threshold, 2 MiB at most, 64 KiB at least (docs/sockmap.md).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "server/paths/bpf/relay_session.h"

namespace sp {

inline uint32_t sockmap_hold_threshold(size_t budget, size_t spent, size_t sessions) {
  size_t left = budget > spent ? budget - spent : 0;
  size_t share = sessions ? left / (2 * sessions) : left;
  return static_cast<uint32_t>(std::clamp<size_t>(share, SP_RELAY_HOLD_MIN, SP_RELAY_HOLD_AT));
}

}  // namespace sp
