// End-to-end: tcp_ping_client against tcp_ping_server (echo, --sink, --source), through the
// proxy in every pump mode, and against a deliberately corrupting server.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/client_run.h"
#include "tests/support/corrupting_server.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A server of one kind (no arguments: echo; "--sink"; "--source") on an ephemeral port.
struct Server {
  explicit Server(std::vector<std::string> extra = {}) {
    port = free_port();
    std::vector<std::string> argv =
        with_args({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(port), "-w", "1"}, extra);
    process = std::make_unique<ChildProcess>(argv);
    if (!wait_for_port(port)) throw std::runtime_error("tcp_ping_server did not start: " + process->err());
  }
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> process;
};

// Counts consistent with COUNT messages of LENGTH bytes on each of CONNECTIONS connections.
void expect_pingpong_counts(const ClientRun& r, uint64_t connections, uint64_t count, uint64_t length) {
  expect_clean(r);
  const json& s = r.summary;
  EXPECT_EQ(s["mode"], "pingpong");
  EXPECT_EQ(s["messages"].get<uint64_t>(), connections * count);
  EXPECT_EQ(s["bytes_sent"].get<uint64_t>(), connections * count * length);
  EXPECT_EQ(s["bytes_received"].get<uint64_t>(), connections * count * length);
  EXPECT_EQ(s["latency_us"]["samples"].get<uint64_t>(), connections * count);
  const json& lat = s["latency_us"];
  EXPECT_GT(lat["min"].get<double>(), 0);
  EXPECT_LE(lat["min"].get<double>(), lat["p50"].get<double>());
  EXPECT_LE(lat["p50"].get<double>(), lat["p90"].get<double>());
  EXPECT_LE(lat["p90"].get<double>(), lat["p99"].get<double>());
  EXPECT_LE(lat["p99"].get<double>(), lat["p999"].get<double>());
  EXPECT_LE(lat["p999"].get<double>(), lat["max"].get<double>());
  EXPECT_GT(s["duration_s"].get<double>(), 0);
  EXPECT_NEAR(s["throughput"]["messages_per_s"].get<double>(),
              static_cast<double>(connections * count) / s["duration_s"].get<double>(), 1e-6 * (connections * count));
}

// ---------------------------------------------------------------------------------------------
// Direct to tcp_ping_server

TEST(ClientE2E, PingPongCountsAreExact) {
  Server echo;
  auto r = client(echo.port, {"-n", "300", "-c", "4", "-T", "2"});
  expect_pingpong_counts(r, 4, 300, 1024);
  EXPECT_EQ(r.summary["connections"], 4);
  EXPECT_EQ(r.summary["threads"], 2);
  EXPECT_EQ(r.summary["length"], 1024);
}

TEST(ClientE2E, SeedCommandLinePrintsBandwidth) {
  Server echo;
  auto r = run({bin("tcp_ping_client"), "-p", std::to_string(echo.port), "-s", "127.0.0.1", "-n", "200"}, 30s);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Bandwidth: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" KB/sec\n"), std::string::npos) << r.out;
}

TEST(ClientE2E, StreamEchoCountsAreExact) {
  Server echo;
  auto r = client(echo.port, {"--mode", "stream", "-n", "40", "-c", "3", "-T", "2", "-l", "16K"});
  expect_clean(r);
  EXPECT_EQ(r.summary["mode"], "stream");
  EXPECT_EQ(r.summary["messages"], 120);
  EXPECT_EQ(r.summary["bytes_sent"], 120 * 16384);
  EXPECT_EQ(r.summary["bytes_received"], 120 * 16384);
  EXPECT_TRUE(r.summary["latency_us"].is_null());
}

TEST(ClientE2E, StreamIntervalsAddUpToTheSummary) {
  Server echo;
  auto r = client(echo.port, {"--mode", "stream", "-t", "1", "-i", "0.25", "-c", "2", "-T", "2"});
  expect_clean(r);
  ASSERT_GE(r.lines.size(), 4u) << describe(r);  // 4 intervals (the last may be tiny) + summary
  uint64_t bytes = 0, messages = 0;
  for (size_t i = 0; i + 1 < r.lines.size(); ++i) {
    EXPECT_EQ(r.lines[i]["type"], "interval");
    EXPECT_EQ(r.lines[i]["index"], i + 1);
    bytes += r.lines[i]["bytes_received"].get<uint64_t>();
    messages += r.lines[i]["messages"].get<uint64_t>();
  }
  EXPECT_EQ(bytes, r.summary["bytes_received"].get<uint64_t>());
  EXPECT_EQ(messages, r.summary["messages"].get<uint64_t>());
  EXPECT_GT(bytes, 0u);
  EXPECT_LE(r.summary["bytes_received"].get<uint64_t>(), r.summary["bytes_sent"].get<uint64_t>());
  EXPECT_NEAR(r.summary["duration_s"].get<double>(), 1.0, 0.01);
  EXPECT_NEAR(r.summary["throughput"]["bytes_per_s"].get<double>(),
              r.summary["bytes_received"].get<double>() / r.summary["duration_s"].get<double>(), 1.0);
}

TEST(ClientE2E, UploadToSinkWithNoEcho) {
  Server sink({"--sink"});
  auto r = client(sink.port, {"--no-echo", "-n", "100", "-c", "2"});
  expect_clean(r);
  EXPECT_EQ(r.summary["echo"], false);
  EXPECT_EQ(r.summary["messages"], 200);
  EXPECT_EQ(r.summary["bytes_sent"], 200 * 65536);
  EXPECT_EQ(r.summary["bytes_received"], 0);
  EXPECT_DOUBLE_EQ(r.summary["throughput"]["bytes_per_s"].get<double>(),
                   r.summary["throughput"]["sent_bytes_per_s"].get<double>());
}

TEST(ClientE2E, DownloadVerifiesTheSourcePattern) {
  Server source({"--source"});
  auto r = client(source.port, {"--download", "-n", "100", "-c", "2", "-l", "4K"});
  expect_clean(r);
  EXPECT_EQ(r.summary["mode"], "download");
  EXPECT_EQ(r.summary["messages"], 200);
  EXPECT_EQ(r.summary["bytes_received"], 200 * 4096);
  EXPECT_EQ(r.summary["bytes_sent"], 0);
}

TEST(ClientE2E, BidirReportsBothDirections) {
  Server echo;
  auto r = client(echo.port, {"--bidir", "-n", "20", "-c", "2"});
  expect_clean(r);
  const json& s = r.summary;
  EXPECT_EQ(s["bidir"], true);
  EXPECT_EQ(s["bytes_sent"], 40 * 65536);
  EXPECT_EQ(s["bytes_received"], 40 * 65536);
  EXPECT_NEAR(s["throughput"]["both_ways_bytes_per_s"].get<double>(),
              (s["bytes_sent"].get<double>() + s["bytes_received"].get<double>()) / s["duration_s"].get<double>(), 1.0);
  EXPECT_NEAR(s["throughput"]["bytes_per_s"].get<double>(),
              s["bytes_received"].get<double>() / s["duration_s"].get<double>(), 1.0);
}

TEST(ClientE2E, ConstantRateHoldsTheRate) {
  Server echo;
  auto r = client(echo.port, {"--rate", "2000", "-c", "4", "-t", "1", "--warmup", "0.2"});
  expect_clean(r);
  double rate = r.summary["throughput"]["messages_per_s"].get<double>();
  EXPECT_NEAR(rate, 2000, 200) << describe(r);
  EXPECT_EQ(r.summary["target_rate_msgs_per_s"], 2000.0);
  EXPECT_NEAR(r.summary["duration_s"].get<double>(), 1.0, 0.01);
  EXPECT_GT(r.summary["latency_us"]["p50"].get<double>(), 0);
}

TEST(ClientE2E, AServerThatStopsAnsweringIsCountedAsAStall) {
  // Two connections ping for 2.5 s; the server is frozen (SIGSTOP) for 1.2 s in the middle: both
  // messages in flight move nothing for that long, and nothing else waited 0.6 s.
  Server echo;
  ChildProcess c({bin("tcp_ping_client"), "-p", std::to_string(echo.port), "-c", "2", "-t", "2.5", "--stall", "0.6",
                  "--json"});
  std::this_thread::sleep_for(600ms);
  echo.process->signal(SIGSTOP);
  std::this_thread::sleep_for(1200ms);
  echo.process->signal(SIGCONT);
  auto code = c.wait(10s);
  ASSERT_TRUE(code.has_value()) << "the client did not end";
  auto r = parse_output(*code, c.out(), c.err());
  expect_clean(r);
  const json& stalls = r.summary["stalls"];
  EXPECT_EQ(stalls["after_s"].get<double>(), 0.6);
  EXPECT_EQ(stalls["connections"].get<uint64_t>(), 2u) << describe(r);
  EXPECT_GE(stalls["longest_gap_us"].get<double>(), 1.1e6) << describe(r);
  EXPECT_LE(stalls["longest_gap_us"].get<double>(), 2.0e6) << describe(r);

  auto quiet = client(echo.port, {"-c", "2", "-t", "0.5", "--stall", "0.6"});
  expect_clean(quiet);
  EXPECT_EQ(quiet.summary["stalls"]["connections"].get<uint64_t>(), 0u) << describe(quiet);
  EXPECT_LT(quiet.summary["stalls"]["longest_gap_us"].get<double>(), 0.6e6) << describe(quiet);
}

TEST(ClientE2E, CountZeroRunsUntilSigint) {
  Server echo;
  ChildProcess c({bin("tcp_ping_client"), "-p", std::to_string(echo.port), "-n", "0", "-c", "2", "--json"});
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(c.running()) << c.err();
  c.signal(SIGINT);
  auto code = c.wait(5s);
  ASSERT_TRUE(code.has_value()) << "did not stop after SIGINT";
  auto r = parse_output(*code, c.out(), c.err());
  expect_clean(r);
  EXPECT_GT(r.summary["messages"].get<uint64_t>(), 0u);
  EXPECT_EQ(r.summary["bytes_sent"], r.summary["bytes_received"]);
}

TEST(ClientE2E, StreamStopsCleanlyOnSigterm) {
  Server echo;
  ChildProcess c({bin("tcp_ping_client"), "-p", std::to_string(echo.port), "--mode", "stream", "-n", "0", "-c", "2", "--json"});
  std::this_thread::sleep_for(500ms);
  c.signal(SIGTERM);
  auto code = c.wait(10s);
  ASSERT_TRUE(code.has_value()) << "did not stop after SIGTERM";
  auto r = parse_output(*code, c.out(), c.err());
  expect_clean(r);  // the in-flight echo was drained and verified
  EXPECT_GT(r.summary["bytes_received"].get<uint64_t>(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Usage and connection errors

TEST(ClientE2E, ImpossibleCombinationsExitTwoWithTheReasonAndAPointerToHelp) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"-n", "10", "-t", "1"}, {"--mode", "stream", "--rate", "100"}, {"--length", "0"}, {"--bogus"}}) {
    std::vector<std::string> argv = {bin("tcp_ping_client")};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, 10s);
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_EQ(r.err.rfind("tcp_ping_client: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("\nTry 'tcp_ping_client --help' for more information.\n"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Usage:"), std::string::npos) << "the usage buries the reason: " << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST(ClientE2E, RefusedConnectionNamesAddressAndErrno) {
  uint16_t port = free_port();  // nothing listens there
  auto r = client(port, {"-c", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("connect 127.0.0.1:" + std::to_string(port) + ": Connection refused"), std::string::npos) << r.err;
  EXPECT_EQ(r.summary["errors"]["connect_failures"], 3);
  EXPECT_EQ(r.summary["ok"], false);
}

// ---------------------------------------------------------------------------------------------
// Integrity: a corrupting server must be caught

struct FaultCase {
  const char* name;
  CorruptingServer::Fault fault;
  std::vector<std::string> client_args;
  const char* error_key;
  const char* stderr_text;
};

class ClientIntegrity : public ::testing::TestWithParam<FaultCase> {};

TEST_P(ClientIntegrity, FaultIsReportedAndExitIsNonZero) {
  const FaultCase& c = GetParam();
  CorruptingServer server(c.fault, 5000);
  auto r = client(server.port(), c.client_args);
  EXPECT_EQ(r.code, 1) << describe(r);
  ASSERT_TRUE(r.summary.is_object()) << describe(r);
  EXPECT_EQ(r.summary["ok"], false);
  EXPECT_GE(r.summary["errors"][c.error_key].get<uint64_t>(), 1u) << describe(r);
  EXPECT_NE(r.err.find(c.stderr_text), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1:" + std::to_string(server.port())), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    ClientFaults, ClientIntegrity,
    ::testing::Values(
        FaultCase{"PingFlip", CorruptingServer::Fault::kFlipByte, {"-n", "100"}, "mismatches", "mismatch"},
        FaultCase{"PingDrop", CorruptingServer::Fault::kDropByte, {"-n", "100"}, "mismatches", "mismatch"},
        FaultCase{"StreamFlip", CorruptingServer::Fault::kFlipByte, {"--mode", "stream", "-n", "10", "-l", "4K"}, "mismatches", "mismatch"},
        FaultCase{"StreamDrop", CorruptingServer::Fault::kDropByte, {"--mode", "stream", "-n", "10", "-l", "4K"}, "mismatches", "mismatch"},
        FaultCase{"PingClose", CorruptingServer::Fault::kCloseAfter, {"-n", "100"}, "short_reads", "closed the connection"},
        FaultCase{"StreamClose", CorruptingServer::Fault::kCloseAfter, {"--mode", "stream", "-n", "10", "-l", "4K"}, "short_reads", "closed the connection"},
        FaultCase{"PingReset", CorruptingServer::Fault::kResetAfter, {"-n", "100"}, "resets", "Connection reset by peer"}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Through the proxy, every pump mode (kAllModes)

class ClientThroughProxy : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientThroughProxy, PingPong) {
  ProxyStack stack(GetParam());
  auto r = client(stack.proxy_port, {"-n", "200", "-c", "8", "-T", "2"});
  expect_pingpong_counts(r, 8, 200, 1024);
}

TEST_P(ClientThroughProxy, StreamEcho) {
  ProxyStack stack(GetParam());
  auto r = client(stack.proxy_port, {"--mode", "stream", "-t", "1", "-c", "8", "-T", "2"});
  expect_clean(r);
  EXPECT_GT(r.summary["bytes_received"].get<uint64_t>(), 0u);
  EXPECT_LE(r.summary["bytes_received"].get<uint64_t>(), r.summary["bytes_sent"].get<uint64_t>());
  auto n = client(stack.proxy_port, {"--mode", "stream", "-n", "30", "-c", "4", "-T", "2"});
  expect_clean(n);
  EXPECT_EQ(n.summary["bytes_received"], 4 * 30 * 65536);
  EXPECT_EQ(n.summary["messages"], 4 * 30);
}

TEST_P(ClientThroughProxy, UploadToSink) {
  ProxyStack stack(GetParam(), {}, {"-w", "1", "--sink"});
  auto r = client(stack.proxy_port, {"--no-echo", "-n", "50", "-c", "4", "-T", "2"});
  expect_clean(r);
  EXPECT_EQ(r.summary["bytes_sent"], 4 * 50 * 65536);
}

TEST_P(ClientThroughProxy, DownloadFromSource) {
  ProxyStack stack(GetParam(), {}, {"-w", "1", "--source"});
  auto r = client(stack.proxy_port, {"--download", "-n", "50", "-c", "4", "-T", "2"});
  expect_clean(r);
  EXPECT_EQ(r.summary["bytes_received"], 4 * 50 * 65536);
}

SP_INSTANTIATE_FOR_ALL_MODES(ClientThroughProxy);

}  // namespace
}  // namespace sp::test
