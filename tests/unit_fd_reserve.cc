// The process's reserved descriptors: out of descriptors, use() still gets one, two at most kept
// at once, and the reserve refills once they come back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <vector>

#include "common/fd.h"
#include "common/fd_reserve.h"

namespace sp {
namespace {

// Every descriptor number below the (lowered) limit taken, for the test's scope.
class NoDescriptorsLeft {
 public:
  NoDescriptorsLeft() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit tight = saved_;
    tight.rlim_cur = 256;
    ::setrlimit(RLIMIT_NOFILE, &tight);
    for (int fd; (fd = ::dup(0)) >= 0;) fillers_.emplace_back(fd);
  }
  ~NoDescriptorsLeft() {
    fillers_.clear();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  rlimit saved_{};
  std::vector<Fd> fillers_;
};

Fd open_null() { return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

TEST(FdReserve, OutOfDescriptorsUseStillGetsOneTwoAtMostAndRefills) {
  ASSERT_TRUE(fd_reserve::use([] {}));  // the reserve is made (and full) before the shortage
  std::vector<Fd> kept;
  {
    NoDescriptorsLeft none;
    ASSERT_FALSE(open_null().valid());
    // A descriptor made and closed inside use() comes back to the reserve: any number of times.
    for (int i = 0; i < 5; ++i) {
      bool opened = false;
      EXPECT_TRUE(fd_reserve::use([&] { opened = open_null().valid(); }));
      EXPECT_TRUE(opened) << "use " << i;
    }
    // Kept (a stats client): two such, then the reserve is spent until one comes back.
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(fd_reserve::use([&] { kept.push_back(open_null()); }));
    EXPECT_TRUE(kept[0].valid() && kept[1].valid());
    bool ran = false;
    EXPECT_FALSE(fd_reserve::use([&] { ran = true; }));
    EXPECT_FALSE(ran);
    kept.pop_back();  // one comes back: use() refills and runs again
    bool opened = false;
    EXPECT_TRUE(fd_reserve::use([&] { opened = open_null().valid(); }));
    EXPECT_TRUE(opened);
  }
  kept.clear();
  EXPECT_TRUE(fd_reserve::use([] {}));
}

}  // namespace
}  // namespace sp
