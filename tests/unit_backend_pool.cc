// The backend pool's choices (server/proxy/backend_pool.*), without sockets: numeric addresses
// resolve without a thread, and connects are reported by hand.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "server/proxy/backend_pool.h"

namespace sp {
namespace {

BackendSpec spec(const std::string& text) { return parse_backend(text, 9999); }

std::map<std::string, int> picks(BackendPool& pool, int n, uint64_t tried = 0) {
  std::map<std::string, int> out;
  for (int i = 0; i < n; ++i) {
    Backend* b = pool.pick({}, tried);
    out[b ? b->spec().where.to_string() : "none"]++;
  }
  return out;
}

TEST(BackendPool, RoundRobinFollowsTheWeightsTakingTurns) {
  BackendPool pool({spec("10.0.0.1:1,weight=2"), spec("10.0.0.2:1,weight=2"), spec("10.0.0.3:1")},
                   BackendBalance::kRoundRobin, {});
  std::string order;
  for (int i = 0; i < 10; ++i) order += pool.pick({}, 0)->spec().where.host.back();
  EXPECT_EQ(order, "1212312123");
}

TEST(BackendPool, AStandbyIsUsedOnlyWhenNoOtherIsUp) {
  BackendChecks checks;
  checks.fall = 1;
  BackendPool pool({spec("10.0.0.1:1"), spec("10.0.0.2:1,weight=0")}, BackendBalance::kRoundRobin, checks);
  EXPECT_EQ(picks(pool, 4), (std::map<std::string, int>{{"10.0.0.1:1", 4}}));
  pool.failed(*pool.backends()[0]);  // one failure in a row is the fall here
  EXPECT_FALSE(pool.backends()[0]->up());
  EXPECT_EQ(picks(pool, 4), (std::map<std::string, int>{{"10.0.0.2:1", 4}}));
  pool.connected(*pool.backends()[0]);  // without active checks, a connect that works brings it back
  EXPECT_TRUE(pool.backends()[0]->up());
  pool.finished(*pool.backends()[0]);
  EXPECT_EQ(pool.backends()[0]->counters().active.get(), 0u);
}

TEST(BackendPool, TriedBackendsAreSkippedAndWhenAllAreTriedThereIsNone) {
  BackendPool pool({spec("10.0.0.1:1"), spec("10.0.0.2:1"), spec("10.0.0.3:1")}, BackendBalance::kRoundRobin, {});
  EXPECT_EQ(picks(pool, 3, 0b011), (std::map<std::string, int>{{"10.0.0.3:1", 3}}));
  EXPECT_EQ(picks(pool, 1, 0b111), (std::map<std::string, int>{{"none", 1}}));
}

TEST(BackendPool, WhenEveryBackendIsDownTheyAreStillTried) {
  BackendChecks checks;
  checks.fall = 1;
  BackendPool pool({spec("10.0.0.1:1"), spec("10.0.0.2:1")}, BackendBalance::kLeastConnections, checks);
  for (auto& b : pool.backends()) pool.failed(*b);
  EXPECT_FALSE(pool.backends()[0]->up());
  EXPECT_FALSE(pool.backends()[1]->up());
  Backend* first = pool.pick({}, 0);
  ASSERT_NE(first, nullptr);
  EXPECT_NE(pool.pick({}, uint64_t{1} << pool.index_of(first)), nullptr);
}

TEST(BackendPool, ASourceHashMovesOnlyTheClientsOfABackendThatWentDown) {
  BackendChecks checks;
  checks.fall = 1;
  BackendPool pool({spec("10.0.0.1:1"), spec("10.0.0.2:1"), spec("10.0.0.3:1")}, BackendBalance::kSourceHash, checks);
  std::vector<Backend*> before;
  for (int i = 0; i < 300; ++i) {
    AddressBytes client{};
    client[15] = static_cast<uint8_t>(i), client[14] = static_cast<uint8_t>(i >> 8);
    before.push_back(pool.pick(client, 0));
  }
  std::map<Backend*, int> spread;
  for (Backend* b : before) spread[b]++;
  for (auto& [b, n] : spread) EXPECT_GT(n, 60) << b->spec().where.to_string() << ": uneven";
  pool.failed(*pool.backends()[1]);
  for (int i = 0; i < 300; ++i) {
    AddressBytes client{};
    client[15] = static_cast<uint8_t>(i), client[14] = static_cast<uint8_t>(i >> 8);
    Backend* now = pool.pick(client, 0);
    if (before[static_cast<size_t>(i)] != pool.backends()[1].get()) EXPECT_EQ(now, before[static_cast<size_t>(i)]) << i;
    else EXPECT_NE(now, pool.backends()[1].get()) << i;
  }
}

TEST(BackendPool, ParsesWeightsAndRefusesWhatItCannotRead) {
  EXPECT_EQ(spec("backend").where.to_string(), "backend:9999");
  EXPECT_EQ(spec("[::1]:80,weight=7").weight, 7u);
  EXPECT_THROW(spec("10.0.0.1,weight=1001"), std::invalid_argument);
  EXPECT_THROW(spec("10.0.0.1,weight="), std::invalid_argument);
  EXPECT_THROW(spec("10.0.0.1:0"), std::invalid_argument);
}

}  // namespace
}  // namespace sp
