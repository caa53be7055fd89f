// The process's reserved descriptors: two (/dev/null) held back so that, out of descriptors,
// the process can still accept the one connection that matters: a client over capacity, to
// close it at once rather than leave it in the backlog with no timeout, or a stats client, to
// answer it (and read /proc for the answer). nginx and muduo keep a spare; freeing it is not
// enough in a threaded process, though: the number freed goes to whichever thread makes a
// descriptor next (a worker connecting to the remote took it within microseconds, and the
// backlog waited forever).
// So the code that makes descriptors on hot paths (accept, connect, pipes) holds an
// `Allocation`, and use() runs only while none is held: the freed number is use()'s alone.
//
// Thread context: any thread. use() must not be called from inside another use() or while the
// calling thread holds an Allocation.
#pragma once

#include <functional>

namespace sp::fd_reserve {

// Frees one reserved descriptor, runs fn (which may make one descriptor, and keep it), then
// holds the full reserve again if descriptors are free. False, without running fn, when no
// reserve is held and none can be had (what earlier use() calls made is still kept).
bool use(const std::function<void()>& fn);

// Held while making a descriptor that must not take the reserve's number: use() waits for it.
class Allocation {
 public:
  Allocation();
  ~Allocation();
  Allocation(const Allocation&) = delete;
  Allocation& operator=(const Allocation&) = delete;
};

}  // namespace sp::fd_reserve
