// Remote: a name that does not resolve at start is retried with a doubling, capped backoff
// (through an injected resolver, so no DNS and no /etc/hosts), logged once, and never throws.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "server/proxy/remote.h"
#include "tests/support/eventually.h"

namespace sp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Fails its first `failures` calls, then answers 127.0.0.1; records when it was called.
struct FlakyResolver {
  explicit FlakyResolver(unsigned failures) : failures(failures) {}
  Remote::Resolver fn() {
    return [this](const HostPort& where) {
      std::lock_guard lock(mutex);
      calls.push_back(Clock::now());
      if (calls.size() <= failures) throw std::runtime_error("cannot resolve '" + where.host + "': not yet");
      return resolve(HostPort{"127.0.0.1", where.port}, false);
    };
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return calls.size();
  }
  std::vector<Clock::time_point> times() {
    std::lock_guard lock(mutex);
    return calls;
  }
  unsigned failures;
  std::mutex mutex;
  std::vector<Clock::time_point> calls;
};

TEST(Remote, NameThatResolvesAtOnceIsUsedAtOnce) {
  FlakyResolver r(0);
  Remote remote(HostPort{"svc", 7}, r.fn());
  ASSERT_EQ(remote.current()->size(), 1u);
  EXPECT_EQ(remote.current()->front().to_string(), "127.0.0.1:7");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(r.count(), 1u) << "resolved: nothing to retry until a connect fails";
}

TEST(Remote, UnresolvedNameIsRetriedWithADoublingCappedBackoff) {
  testing::internal::CaptureStderr();
  FlakyResolver r(6);
  auto start = Clock::now();
  Remote remote(HostPort{"later", 9}, r.fn(), Remote::Backoff{20ms, 80ms});
  EXPECT_TRUE(remote.current()->empty()) << "no addresses until the name resolves";
  ASSERT_TRUE(test::eventually([&] { return !remote.current()->empty(); }, 5s)) << r.count() << " attempts";
  std::this_thread::sleep_for(50ms);  // the line that says so comes just after the new list
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(remote.current()->front().to_string(), "127.0.0.1:9");
  auto t = r.times();
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(remote.attempts(), 7u);
  // Gaps after each failure: 20, 40, 80, 80, 80, 80 ms. A loaded machine only makes them longer.
  const std::chrono::milliseconds expected[] = {20ms, 40ms, 80ms, 80ms, 80ms, 80ms};
  for (size_t i = 1; i < t.size(); ++i) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(t[i] - t[i - 1]);
    EXPECT_GE(gap, expected[i - 1] - 2ms) << "gap " << i;
    EXPECT_LT(gap, expected[i - 1] + 500ms) << "gap " << i;
  }
  EXPECT_LT(Clock::now() - start, 3s);
  // One warning naming the host and the resolver's error, however many attempts failed.
  size_t first = log.find("cannot resolve 'later': not yet");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("cannot resolve", first + 1), std::string::npos) << "logged more than once: " << log;
  EXPECT_NE(log.find("'later' resolves now: 127.0.0.1:9"), std::string::npos) << log;
  // Resolved: the backoff is over; another resolution only when a connect failure asks.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(r.count(), 7u);
  remote.refresh();
  EXPECT_TRUE(test::eventually([&] { return r.count() == 8u; }, 2s));
}

TEST(Remote, RefreshDoesNotHurryTheBackoff) {
  FlakyResolver r(1000);
  Remote remote(HostPort{"never", 9}, r.fn(), Remote::Backoff{50ms, 200ms});
  auto start = Clock::now();
  // Every failed connect asks for a refresh: the backoff alone sets the pace.
  for (int i = 0; i < 50; ++i) {
    remote.refresh();
    std::this_thread::sleep_for(10ms);
  }
  auto elapsed = Clock::now() - start;
  // The start, then one attempt at 50, 150, 350, 550, 750, ... ms: about 5 in 0.5 s, not 50.
  size_t allowed = 1;
  for (auto at = 50ms, gap = 100ms; at <= elapsed; at += gap, gap = std::min(gap * 2, 200ms)) ++allowed;
  EXPECT_LE(r.count(), allowed);
  EXPECT_GE(r.count(), 3u);
  EXPECT_TRUE(remote.current()->empty());
}

TEST(Remote, DestructorDoesNotWaitForTheBackoff) {
  FlakyResolver r(1000);
  auto remote = std::make_unique<Remote>(HostPort{"never", 9}, r.fn(), Remote::Backoff{5s, 5s});
  std::this_thread::sleep_for(50ms);
  auto start = Clock::now();
  remote.reset();
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(Remote, NumericAddressNeverWaits) {
  FlakyResolver r(0);
  Remote remote(HostPort{"127.0.0.1", 5}, r.fn());
  EXPECT_EQ(remote.current()->size(), 1u);
  remote.refresh();  // a literal's address cannot change
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(r.count(), 1u);
  FlakyResolver failing(1);
  EXPECT_THROW(Remote(HostPort{"127.0.0.1", 5}, failing.fn()), std::runtime_error);
}

}  // namespace
}  // namespace sp
