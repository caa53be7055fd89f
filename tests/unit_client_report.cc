#include <gtest/gtest.h>

#include <string>

#include "client/options.h"
#include "client/report.h"

namespace sp::client {
namespace {

Sample ping_sample() {
  Sample s;
  s.messages = 1000;
  s.bytes_sent = s.bytes_received = 1000 * 1024;
  for (int i = 1; i <= 1000; ++i) s.latency.record(i * 1000);  // 1..1000 us
  return s;
}

TEST(ClientReport, SummaryHasTheContractKeys) {
  Options o;
  o.connections = 4;
  o.threads = 2;
  Sample s = ping_sample();
  Window w{&o, "127.0.0.1:9999", 0, 2.0, &s, ""};
  auto j = summary_json(w);
  EXPECT_EQ(j["type"], "summary");
  EXPECT_EQ(j["mode"], "pingpong");
  EXPECT_EQ(j["connections"], 4);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["length"], 1024);
  EXPECT_DOUBLE_EQ(j["duration_s"].get<double>(), 2.0);
  EXPECT_EQ(j["messages"], 1000);
  EXPECT_EQ(j["bytes_sent"], 1024000);
  EXPECT_EQ(j["bytes_received"], 1024000);
  EXPECT_DOUBLE_EQ(j["throughput"]["bytes_per_s"].get<double>(), 512000.0);
  EXPECT_DOUBLE_EQ(j["throughput"]["messages_per_s"].get<double>(), 500.0);
  EXPECT_DOUBLE_EQ(j["throughput"]["mbit_per_s"].get<double>(), 4.096);
  for (const char* k : {"min", "mean", "p50", "p90", "p99", "p999", "max"})
    EXPECT_TRUE(j["latency_us"][k].is_number_float()) << k;
  EXPECT_DOUBLE_EQ(j["latency_us"]["min"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["latency_us"]["max"].get<double>(), 1000.0);
  EXPECT_NEAR(j["latency_us"]["p50"].get<double>(), 500.0, 500.0 * Histogram::kMaxRelativeError);
  EXPECT_NEAR(j["latency_us"]["p99"].get<double>(), 990.0, 990.0 * Histogram::kMaxRelativeError);
  EXPECT_NEAR(j["latency_us"]["mean"].get<double>(), 500.5, 1e-9);
  for (const char* k : {"mismatches", "short_reads", "resets", "connect_failures"}) EXPECT_EQ(j["errors"][k], 0) << k;
  EXPECT_EQ(j["ok"], true);
  EXPECT_FALSE(j.contains("first_error"));
  EXPECT_DOUBLE_EQ(j["stalls"]["after_s"].get<double>(), 1.0);
  EXPECT_EQ(j["stalls"]["connections"], 0);
}

TEST(ClientReport, ErrorsMakeItNotOk) {
  Options o;
  Sample s = ping_sample();
  s.errors.add(ErrorKind::kMismatch);
  s.errors.add(ErrorKind::kConnectFailure);
  Window w{&o, "127.0.0.1:9999", 0, 1.0, &s, "connection 0: mismatch"};
  auto j = summary_json(w);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["errors"]["mismatches"], 1);
  EXPECT_EQ(j["errors"]["connect_failures"], 1);
  EXPECT_EQ(j["first_error"], "connection 0: mismatch");
  EXPECT_NE(summary_text(w).find("mismatches 1"), std::string::npos);
}

TEST(ClientReport, StreamCountsOneDirection) {
  Options o;
  o.mode = Mode::kStream;
  o.length = 65536;
  Sample s;
  s.bytes_sent = 3000;
  s.bytes_received = 2000;
  Window w{&o, "x", 0, 1.0, &s, ""};
  EXPECT_DOUBLE_EQ(summary_json(w)["throughput"]["bytes_per_s"].get<double>(), 2000);  // echoed back
  EXPECT_TRUE(summary_json(w)["latency_us"].is_null());
  EXPECT_TRUE(summary_json(w)["stalls"].is_null());  // measured for pingpong only
  EXPECT_DOUBLE_EQ(summary_json(w)["throughput"]["both_ways_bytes_per_s"].get<double>(), 5000);
  o.bidir = true;  // only the text output changes: the JSON keeps the one-way contract
  EXPECT_DOUBLE_EQ(summary_json(w)["throughput"]["bytes_per_s"].get<double>(), 2000);
  EXPECT_NE(summary_text(w).find("Bandwidth: 4.88 KB/sec"), std::string::npos) << summary_text(w);
  o.bidir = false;
  o.no_echo = true;
  EXPECT_DOUBLE_EQ(summary_json(w)["throughput"]["bytes_per_s"].get<double>(), 3000);  // sent
  o.no_echo = false;
  o.mode = Mode::kDownload;
  EXPECT_DOUBLE_EQ(summary_json(w)["throughput"]["bytes_per_s"].get<double>(), 2000);  // received
  EXPECT_EQ(summary_json(w)["mode"], "download");
}

TEST(ClientReport, IntervalsAreMarkedAndTextKeepsTheSeedLine) {
  Options o;
  Sample s = ping_sample();
  Window w{&o, "127.0.0.1:9999", 3.0, 1.0, &s, ""};
  auto j = interval_json(w, 4);
  EXPECT_EQ(j["type"], "interval");
  EXPECT_EQ(j["index"], 4);
  EXPECT_DOUBLE_EQ(j["start_s"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(j["end_s"].get<double>(), 4.0);
  EXPECT_EQ(j["messages"], 1000);
  // The seed's line: bytes sent / elapsed / 1024.
  Window all{&o, "127.0.0.1:9999", 0, 2.0, &s, ""};
  EXPECT_NE(summary_text(all).find("Bandwidth: 500.00 KB/sec\n"), std::string::npos) << summary_text(all);
}

TEST(ClientReport, SampleMergeAddsEverything) {
  Sample a = ping_sample(), b = ping_sample();
  b.errors.add(ErrorKind::kReset);
  a.merge(b);
  EXPECT_EQ(a.messages, 2000u);
  EXPECT_EQ(a.bytes_sent, 2048000u);
  EXPECT_EQ(a.latency.count(), 2000u);
  EXPECT_EQ(a.errors.resets, 1u);
  b.stalls = {3, 7'000'000'000};
  a.merge(b);
  EXPECT_EQ(a.stalls.connections, 3u);
  EXPECT_EQ(a.stalls.longest_gap_ns, 7'000'000'000);
  a.reset();
  EXPECT_EQ(a.stalls.connections, 0u);
  EXPECT_EQ(a.messages, 0u);
  EXPECT_TRUE(a.latency.empty());
  EXPECT_EQ(a.errors.total(), 0u);
}

}  // namespace
}  // namespace sp::client
