// End-to-end at scale: 10,000 concurrent idle connections through the proxy, with traffic on
// some of them, and the user-space memory each idle connection costs in every pump mode.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/payload.h"
#include "tests/support/modes.h"
#include "tests/support/sanitizers.h"
#include "tests/support/stack.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

class Scale : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // Children inherit the limit: the proxy needs two fds per connection, the server one. Without
    // CAP_SYS_RESOURCE (containers) the hard limit caps it, and so the number of connections.
    rlimit lim;
    ::getrlimit(RLIMIT_NOFILE, &lim);
    rlimit want{65536, 65536};
    if (::setrlimit(RLIMIT_NOFILE, &want) != 0) {
      lim.rlim_cur = lim.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    ::getrlimit(RLIMIT_NOFILE, &lim);
    connections_ = static_cast<int>(std::min<rlim_t>(10000, (lim.rlim_cur - 256) / 2));
    if (connections_ < 1000) GTEST_SKIP() << "RLIMIT_NOFILE " << lim.rlim_cur << " is too low for this test";
    if (connections_ < 10000)
      std::printf("[ note     ] the fd hard limit (%llu) allows %d connections, not 10000\n",
                  static_cast<unsigned long long>(lim.rlim_cur), connections_);
  }
  int connections_ = 0;
};

TEST_P(Scale, TenThousandIdleConnectionsWithTrafficOnSome) {
  const int kIdle = connections_, kBusy = 50;
  ProxyStack stack(GetParam(), {"-w", "2"}, {"-w", "2"});
  std::this_thread::sleep_for(100ms);
  uint64_t rss_before = rss_bytes(stack.proxy->pid());
  std::vector<Fd> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(connect_to(stack.proxy_port, 10s));
    // Every one of them is really proxied: a byte comes back through it.
    char c = static_cast<char>(i);
    ASSERT_TRUE(send_all(idle.back().get(), &c, 1));
    ASSERT_TRUE(read_exact(idle.back().get(), &c, 1)) << "connection " << i << ": " << stack.proxy->err();
    ASSERT_EQ(c, static_cast<char>(i));
  }
  std::this_thread::sleep_for(100ms);
  uint64_t rss_idle = rss_bytes(stack.proxy->pid());
  double per_connection = static_cast<double>(rss_idle - rss_before) / kIdle;
  std::printf("[ measure  ] %s mode: proxy RSS %.1f MiB -> %.1f MiB with %d idle connections: %.0f bytes each\n",
              GetParam().c_str(), rss_before / 1048576.0, rss_idle / 1048576.0, kIdle, per_connection);
  RecordProperty("bytes_per_idle_connection", static_cast<int>(per_connection));
  // README measures ~460 bytes; 1 KiB leaves room for allocator noise but not for a buffer or a
  // pipe's worth of bookkeeping held per idle connection.
  // An instrumented build pads every allocation with redzones: there the bound is issue 17's 4 KiB.
  double bound = kSanitized ? 4096 : 1024;
  EXPECT_LE(per_connection, bound) << "an idle proxied connection must cost at most " << bound
                                   << " bytes of user-space memory";
  EXPECT_EQ(open_fds(stack.proxy->pid()) >= 2 * kIdle, true);

  // Traffic on some connections while the rest stay open and idle.
  PayloadPattern pattern;
  std::vector<uint8_t> out(16 << 10), in(out.size());
  // Spread over every open connection, however many the fd limit allowed.
  const size_t stride = static_cast<size_t>(kIdle / kBusy);
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < kBusy; ++i) {
      uint64_t offset = static_cast<uint64_t>(round * kBusy + i) * out.size();
      pattern.fill(offset, out.data(), out.size());
      ASSERT_TRUE(send_all(idle[static_cast<size_t>(i) * stride].get(), out.data(), out.size()));
      ASSERT_TRUE(read_exact(idle[static_cast<size_t>(i) * stride].get(), in.data(), in.size()));
      ASSERT_EQ(pattern.verify(offset, in.data(), in.size()), in.size());
    }
  }
  // Idle again: buffers and pipes went back to the pools, so memory did not grow per connection.
  uint64_t rss_after = rss_bytes(stack.proxy->pid());
  EXPECT_LT(rss_after, rss_idle + (32u << 20)) << "RSS grew from " << rss_idle << " to " << rss_after;
  idle.clear();
  // Everything closes: the proxy is back to its baseline of descriptors.
  int fds = 0;
  for (int i = 0; i < 200; ++i) {
    fds = open_fds(stack.proxy->pid());
    if (fds < 64) break;
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_LT(fds, 64) << "descriptors left open after every connection closed";
}

SP_INSTANTIATE_FOR_ALL_MODES(Scale);

}  // namespace
}  // namespace sp::test
