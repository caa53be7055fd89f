// End-to-end: the Prometheus text of the real proxy read by the real Prometheus tools from Debian.
// promtool accepts the `metrics` reply and the --stats-prom file; node_exporter's textfile
// collector exposes the file; a Prometheus server scraping node_exporter every second answers a
// PromQL query with a byte rate above zero for each worker while tcp_ping_client streams through
// the proxy. Skipped, saying so, where the tools are not installed (scripts/setup-deps installs them).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The tool's path on PATH, or "" when it is not installed.
std::string tool(const std::string& name) {
  RunResult r = run({"/bin/sh", "-c", "command -v " + name}, 5s);
  if (r.code != 0) return "";
  return r.out.substr(0, r.out.find('\n'));
}

#define REQUIRE_TOOL(var, name)                                                                          \
  std::string var = tool(name);                                                                          \
  if (var.empty()) GTEST_SKIP() << name << " is not installed (Debian: scripts/setup-deps installs it)"

std::string temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/sp-e2e-prom-XXXXXX";
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A proxy with two workers, its stats socket and its --stats-prom file in a directory of its own,
// and tcp_ping_client streaming through it on four connections (two per worker, round-robin).
struct PromStack {
  PromStack()
      : dir(temp_dir()),
        prom_file(dir + "/spliceproxy.prom"),
        stats_port(free_port()),
        stack("rw", {"--stats", "127.0.0.1:" + std::to_string(stats_port), "--stats-interval", "0.5", "--stats-prom", prom_file},
              {"-w", "2"}) {
    EXPECT_TRUE(wait_for_port(stats_port));
  }
  ~PromStack() {
    client.reset();
    stack.proxy.reset();  // removes the file
    sh("rm -rf '" + dir + "'");
  }
  void start_traffic() {
    client = std::make_unique<ChildProcess>(std::vector<std::string>{
        bin("tcp_ping_client"), "-s", "127.0.0.1", "-p", std::to_string(stack.proxy_port), "--mode", "stream", "-c", "4",
        "-t", "120"});
  }
  std::string dir, prom_file;
  uint16_t stats_port;
  ProxyStack stack;
  std::unique_ptr<ChildProcess> client;
};

TEST(PrometheusE2E, PromtoolAcceptsTheMetricsReplyAndTheFile) {
  REQUIRE_TOOL(promtool, "promtool");
  PromStack p;
  p.start_traffic();
  std::this_thread::sleep_for(1200ms);
  std::string port = std::to_string(p.stats_port);
  RunResult reply = sh("echo metrics | nc 127.0.0.1 " + port + " > '" + p.dir + "/reply.txt'");
  ASSERT_EQ(reply.code, 0) << reply.err;
  std::string text = slurp(p.dir + "/reply.txt");
  EXPECT_NE(text.find("# TYPE spliceproxy_worker_bytes_total counter\n"), std::string::npos) << text.substr(0, 500);
  EXPECT_NE(text.find("spliceproxy_worker_bytes_total{worker=\"1\",direction=\"in\"} "), std::string::npos);
  EXPECT_NE(text.find("spliceproxy_info{version=\""), std::string::npos);
  EXPECT_NE(text.find("mode=\"rw\",mode_effective=\"rw\""), std::string::npos);
  EXPECT_NE(text.find("spliceproxy_listener_accepted_total{listener=\"127.0.0.1:" + std::to_string(p.stack.proxy_port) + "\"} "),
            std::string::npos);
  // Prometheus' conventions (docs/prometheus.md): standard process names, dimensions as labels,
  // histograms for sizes, and none of the proxy's own rates or percentages.
  for (const char* family : {"# TYPE process_resident_memory_bytes gauge\n", "# TYPE process_cpu_seconds_total counter\n",
                             "# TYPE process_start_time_seconds gauge\n", "# TYPE spliceproxy_worker_buffer_size_bytes histogram\n",
                             "# TYPE spliceproxy_worker_cpu_seconds_total counter\n"})
    EXPECT_NE(text.find(family), std::string::npos) << family;
  EXPECT_NE(text.find("spliceproxy_worker_buffer_size_bytes_bucket{worker=\"0\",le=\"+Inf\"} "), std::string::npos);
  for (const char* gone : {"_per_second", "_percent", "cpu_user", "process_rss_bytes", "tid=\""})
    EXPECT_EQ(text.find(gone), std::string::npos) << gone;
  for (const std::string& file : {p.dir + "/reply.txt", p.prom_file}) {
    RunResult check = sh(promtool + " check metrics < '" + file + "'");
    EXPECT_EQ(check.code, 0) << "promtool check metrics " << file << ":\n" << check.out << check.err;
  }
  // The file holds the same families as the reply (values move on between the two reads), but for
  // node_exporter's textfile collector the process' are spliceproxy_process_*: process_* are its own.
  auto families = [](const std::string& t, bool textfile) {
    std::string out;
    for (size_t at = t.find("# TYPE "); at != std::string::npos; at = t.find("# TYPE ", at + 1)) {
      std::string line = t.substr(at, t.find('\n', at) - at + 1);
      if (!textfile && line.rfind("# TYPE process_", 0) == 0) line = "# TYPE spliceproxy_" + line.substr(7);
      out += line;
    }
    return out;
  };
  EXPECT_EQ(families(slurp(p.prom_file), true), families(text, false));
  EXPECT_EQ(slurp(p.prom_file).find("\nprocess_"), std::string::npos);
}

TEST(PrometheusE2E, PingServerSpeaksItToo) {
  REQUIRE_TOOL(promtool, "promtool");
  std::string dir = temp_dir();
  struct Cleanup {
    std::string dir;
    ~Cleanup() { sh("rm -rf '" + dir + "'"); }
  } cleanup{dir};
  uint16_t port = free_port(), stats_port = free_port();
  {
    ChildProcess server({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(port), "-w", "2", "--stats",
                         "127.0.0.1:" + std::to_string(stats_port), "--stats-prom", dir + "/ping.prom"});
    ASSERT_TRUE(wait_for_port(stats_port)) << server.err();
    RunResult reply = sh("echo metrics | nc 127.0.0.1 " + std::to_string(stats_port) + " | tee '" + dir +
                         "/reply.txt' | " + promtool + " check metrics");
    EXPECT_EQ(reply.code, 0) << reply.out << reply.err;
    std::string text = slurp(dir + "/reply.txt");
    EXPECT_NE(text.find("program=\"tcp_ping_server\",mode=\"echo\""), std::string::npos) << text.substr(0, 800);
    EXPECT_NE(text.find("spliceproxy_worker_bytes_total{worker=\"1\",direction=\"in\"} 0\n"), std::string::npos);
    RunResult file = sh(promtool + " check metrics < '" + dir + "/ping.prom'");
    EXPECT_EQ(file.code, 0) << file.out << file.err;
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(10s), 0);
  }
  struct stat st;
  EXPECT_NE(::stat((dir + "/ping.prom").c_str(), &st), 0) << "the file outlived a clean exit";
}

TEST(PrometheusE2E, PrometheusSeesEachWorkersByteRateThroughNodeExporter) {
  REQUIRE_TOOL(node_exporter, "prometheus-node-exporter");
  REQUIRE_TOOL(prometheus, "prometheus");
  PromStack p;
  uint16_t exporter_port = free_port();
  ChildProcess exporter({node_exporter, "--web.listen-address=127.0.0.1:" + std::to_string(exporter_port),
                         "--collector.disable-defaults", "--collector.textfile",
                         "--collector.textfile.directory=" + p.dir});
  ASSERT_TRUE(wait_for_port(exporter_port, 20s)) << exporter.err();
  std::string exporter_url = "http://127.0.0.1:" + std::to_string(exporter_port) + "/metrics";
  RunResult exposed = sh("curl -sS --max-time 5 " + exporter_url);
  ASSERT_EQ(exposed.code, 0) << exposed.err;
  EXPECT_NE(exposed.out.find("spliceproxy_worker_bytes_total{direction=\"out\",worker=\"0\"}"), std::string::npos) << exposed.out.substr(0, 2000);
  EXPECT_NE(exposed.out.find("\nnode_textfile_scrape_error 0\n"), std::string::npos) << "node_exporter refused the file";
  // Every family of the file made it: none collides with node_exporter's own (its process_*).
  EXPECT_NE(exposed.out.find("\nspliceproxy_process_resident_memory_bytes "), std::string::npos) << exposed.out.substr(0, 2000);
  EXPECT_EQ(exporter.err().find("error gathering metrics"), std::string::npos) << exporter.err();

  uint16_t prometheus_port = free_port();
  std::ofstream(p.dir + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                              "scrape_configs:\n  - job_name: spliceproxy\n    static_configs:\n"
                                              "      - targets: ['127.0.0.1:" << exporter_port << "']\n";
  ChildProcess server({prometheus, "--config.file=" + p.dir + "/prometheus.yml", "--storage.tsdb.path=" + p.dir + "/data",
                       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)});
  std::string api = "http://127.0.0.1:" + std::to_string(prometheus_port);
  auto ready_by = Clock::now() + 60s;
  while (sh("curl -sf --max-time 2 " + api + "/-/ready").code != 0) {
    ASSERT_TRUE(server.running()) << "prometheus exited: " << server.err().substr(0, 2000);
    ASSERT_LT(Clock::now(), ready_by) << "prometheus not ready in 60 s: " << server.err().substr(0, 2000);
    std::this_thread::sleep_for(250ms);
  }

  p.start_traffic();
  // rate() over 5 s needs two scrapes of a moving counter: poll the query API, at most 60 s.
  std::string query = "sum by (worker) (rate(spliceproxy_worker_bytes_total{job=\"spliceproxy\"}[5s]))";
  std::map<std::string, double> rates;
  auto deadline = Clock::now() + 60s;
  json last;
  while (Clock::now() < deadline) {
    RunResult r = sh("curl -sS --max-time 5 " + api + "/api/v1/query --data-urlencode 'query=" + query + "'");
    if (r.code == 0) {
      last = json::parse(r.out, nullptr, false);
      rates.clear();
      if (!last.is_discarded() && last.value("status", "") == "success")
        for (const json& series : last["data"]["result"])
          rates[series["metric"].value("worker", "?")] = std::stod(series["value"][1].get<std::string>());
      if (rates.size() == 2 && rates["0"] > 0 && rates["1"] > 0) break;
    }
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(rates.size(), 2u) << "query " << query << " answered: " << last.dump().substr(0, 2000);
  EXPECT_GT(rates["0"], 0) << last.dump();
  EXPECT_GT(rates["1"], 0) << last.dump();
  std::cout << "[ measure  ] PromQL " << query << ": worker 0 " << rates["0"] / 1e6 << " MB/s, worker 1 "
            << rates["1"] / 1e6 << " MB/s\n";
  ASSERT_TRUE(p.client->running()) << "tcp_ping_client stopped early: " << p.client->err();
}

}  // namespace
}  // namespace sp::test
