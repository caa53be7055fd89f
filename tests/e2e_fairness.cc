// End-to-end: fair turns inside one worker. A 1 KiB ping-pong "victim" on a `-w 1` proxy, first
// alone, then beside 4 bulk streams through the same proxy (so on the same worker). Before fair
// turns its median waited behind megabytes of other sessions' work per round (~200-800x its
// unloaded median); with a byte budget per turn and a FIFO ready queue it waits about one small
// round. The bound leaves room for a noisy shared 2-vCPU machine: the victim's median beside the
// streams stayed within ~20x of its unloaded one here even while other builds ran.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/modes.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr double kMaxSlowdown = 60;  // loaded p50 / unloaded p50

// The last JSON line a tcp_ping_client printed (its summary), or null.
json summary_of(const std::string& out) {
  json last;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) last = j;
  }
  return last;
}

std::vector<std::string> client_argv(uint16_t port, std::vector<std::string> args) {
  return with_args({bin("tcp_ping_client"), "-s", "127.0.0.1", "-p", std::to_string(port), "--json"}, args);
}

// The victim's median round trip in microseconds over `seconds` of closed-loop 1 KiB pings.
double victim_p50_us(uint16_t port, const char* seconds) {
  RunResult r = run(client_argv(port, {"-t", seconds}), 20s);
  json s = summary_of(r.out);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  if (!s.is_object() || !s["latency_us"].is_object()) {
    ADD_FAILURE() << "no summary: " << r.out << r.err;
    return 0;
  }
  EXPECT_EQ(s["ok"], true) << r.out;
  return s["latency_us"]["p50"].get<double>();
}

class FairnessE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(FairnessE2E, PingPongBesideFourBulkStreamsOnItsWorker) {
  ProxyStack stack(GetParam(), {"-w", "1"});
  double unloaded = victim_p50_us(stack.proxy_port, "1.5");

  ChildProcess streams(client_argv(stack.proxy_port, {"--mode", "stream", "-c", "4", "-t", "4"}));
  std::this_thread::sleep_for(500ms);  // the streams reach full speed (buffers grown to the ceiling)
  double loaded = victim_p50_us(stack.proxy_port, "2");

  auto code = streams.wait(15s);
  ASSERT_TRUE(code.has_value()) << "the streams did not end";
  EXPECT_EQ(*code, 0) << streams.out() << streams.err();
  json s = summary_of(streams.out());
  ASSERT_TRUE(s.is_object()) << streams.out() << streams.err();
  EXPECT_EQ(s["ok"], true) << streams.out();
  for (const char* k : {"mismatches", "short_reads", "resets", "connect_failures"}) EXPECT_EQ(s["errors"][k], 0) << k;
  EXPECT_GT(s["bytes_received"].get<uint64_t>(), 64ULL << 20) << "the streams hardly moved: no load to be fair under";

  ASSERT_GT(unloaded, 0);
  EXPECT_LE(loaded / unloaded, kMaxSlowdown) << "victim p50 " << unloaded << " us alone, " << loaded
                                             << " us beside 4 bulk streams";
  std::cout << "[ victim ] " << GetParam() << ": p50 " << unloaded << " us alone, " << loaded
            << " us beside 4 streams (" << loaded / unloaded << "x)\n";
}

SP_INSTANTIATE_FOR_ALL_MODES(FairnessE2E);

}  // namespace
}  // namespace sp::test
