#include "common/fd_reserve.h"

#include <fcntl.h>

#include <array>
#include <mutex>
#include <shared_mutex>

#include "common/fd.h"

namespace sp::fd_reserve {
namespace {

// Two: a stats client kept on one still leaves one for the stats thread's /proc reads (and for
// closing clients over capacity).
constexpr size_t kSpares = 2;

struct Reserve {
  std::shared_mutex lock;  // shared: Allocation; exclusive: use()
  std::array<Fd, kSpares> spares;

  void refill() {
    for (Fd& spare : spares)
      if (!spare) spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  // Frees one held spare; false if none is held.
  bool free_one() {
    for (Fd& spare : spares)
      if (spare) {
        spare.reset();
        return true;
      }
    return false;
  }
};

Reserve& reserve() {
  static Reserve* r = [] {
    auto* made = new Reserve;  // never destroyed: threads may still use it during exit
    made->refill();
    return made;
  }();
  return *r;
}

}  // namespace

bool use(const std::function<void()>& fn) {
  Reserve& r = reserve();
  std::unique_lock lock(r.lock);
  r.refill();  // what an earlier use() gave away may have come back
  if (!r.free_one()) return false;
  fn();
  r.refill();  // fails while fn's descriptor is kept (a stats client): retried by the next use()
  return true;
}

Allocation::Allocation() { reserve().lock.lock_shared(); }
Allocation::~Allocation() { reserve().lock.unlock_shared(); }

}  // namespace sp::fd_reserve
