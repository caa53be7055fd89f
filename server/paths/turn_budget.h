// How many bytes one direction may move in one turn before it goes to the back of the loop's
// ready queue. A fixed budget must choose between a victim's wait (N bulk directions x budget
// per round) and the syscalls a lone bulk stream pays per byte; dividing one round's worth of
// bytes among the handlers waiting gives both: a lone stream moves large turns, and four streams
// beside a ping-pong move small ones, so a round (the victim's wait) stays near kRoundBytes
// whatever the buffers and pipes have grown to.
//
// Thread context: pure.
#pragma once

#include <algorithm>
#include <cstddef>

namespace sp {

inline constexpr size_t kRoundBytes = 256 << 10;  // bytes per direction per round of the ready queue
inline constexpr size_t kMinTurnBytes = 16 << 10;  // never less than the lowest rung: a turn must do work

// waiting: handlers queued on the loop's ready list besides this one; ceiling: the largest turn.
inline size_t turn_budget(size_t waiting, size_t ceiling) {
  return std::clamp(kRoundBytes / (waiting + 1), kMinTurnBytes, std::max(ceiling, kMinTurnBytes));
}

}  // namespace sp
