// Waits (bounded) until a condition holds: for tests that watch another thread's progress.
#pragma once

#include <chrono>
#include <thread>

namespace sp::test {

// Polls pred() (yielding between tries) until it holds or `limit` passes; false on timeout.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace sp::test
