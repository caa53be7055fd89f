// End-to-end: scripts/soak, the soak runner (scripts/sptools/soak_*.py). A short soak in every
// pump mode the proxy offers must pass every check (none skipped); the verdict must catch broken
// invariants in a log made up for it; bad command lines exit 2. About 40 s in all. The verdict's
// logic on its own is tested by pytest (scripts/sptools/tests).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// Sanitized builds keep freed memory in quarantine (ASan) or shadow it (TSan): RSS grows by
// design there, so only the release build holds the RSS tolerance.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

std::string soak_script() { return (fs::path(__FILE__).parent_path().parent_path() / "scripts" / "soak").string(); }

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("sp-soak-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j;
}

// Runs the soak runner; on timeout it gets SIGTERM (it then stops what it started) before the
// child handle kills it.
RunResult run_soak(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "SOAK_DURATION", "-u", "SOAK_MODE", "-u", "SOAK_BIN",
                                   "-u", "SOAK_LOG_DIR", soak_script()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child(argv);
  RunResult r;
  auto code = child.wait(timeout);
  if (!code) {
    child.signal(SIGTERM);
    code = child.wait(30s);
  }
  r.code = code ? *code : -1;
  r.out = child.out();
  r.err = child.err();
  return r;
}

std::map<std::string, json> checks_by_name(const json& verdict) {
  std::map<std::string, json> m;
  for (const auto& c : verdict.at("checks")) m[c.at("name").get<std::string>()] = c;
  return m;
}

// Every mode the proxy offers, read from its own -h (the "--mode a|b|c" line, as the soak runner
// and the demo read it), so that a new pump mode joins this suite without an edit. A -h without
// that line yields a mode no runner accepts, and the suite fails.
std::vector<std::string> proxy_modes() {
  RunResult help = run({bin("proxy"), "-h"}, 10s);
  std::istringstream lines(help.out + help.err);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find("--mode ");
    if (at == std::string::npos) continue;
    std::string list = line.substr(at + 7);
    list = list.substr(0, list.find(' '));
    if (list.find('|') == std::string::npos) continue;  // "(same as --mode splice)"
    std::vector<std::string> modes;
    std::istringstream items(list);
    for (std::string m; std::getline(items, m, '|');) modes.push_back(m);
    return modes;
  }
  return {"no_mode_list_in_proxy_help"};
}

class SoakE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(SoakE2E, ShortSoakPassesEveryCheck) {
  const std::string mode = GetParam();
  fs::path dir = temp_dir(mode);
  std::vector<std::string> args = {"--bin", SP_BIN_DIR, "--mode", mode, "--duration", "10", "--interval", "1",
                                   "--warmup", "2", "--connections", "8", "--client-threads", "1", "--churn", "4",
                                   "--churn-count", "50", "--workers", "2", "--log-dir", dir.string(),
                                   "--json-out", (dir / "out.json").string()};
  if (kSanitized) args.insert(args.end(), {"--rss-mib", "1024"});
  RunResult r = run_soak(args, 60s);
  std::string why = "exit " + std::to_string(r.code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
  ASSERT_EQ(r.code, 0) << why;
  EXPECT_NE(r.out.find("soak verdict: PASS"), std::string::npos) << why;

  json v = read_json(dir / "out.json");
  ASSERT_TRUE(v.is_object()) << why;
  EXPECT_EQ(v, read_json(dir / "verdict.json"));
  EXPECT_EQ(v.at("ok"), true);
  EXPECT_EQ(v.at("mode"), mode);
  EXPECT_EQ(v.at("stop_reason"), "duration");
  auto checks = checks_by_name(v);
  for (const char* name : {"throughput never stalled", "no mismatches or resets (clients)",
                           "no resets or failed connects (proxy)", "open fds flat after warm-up",
                           "RSS flat after warm-up", "every worker got work", "CPU reported per worker",
                           "drained after the clients stopped", "stats socket answered", "processes ran to the end"}) {
    ASSERT_TRUE(checks.count(name)) << name << "\n" << v.dump(2);
    EXPECT_EQ(checks[name].at("ok"), true) << name << ": " << checks[name].dump(2) << "\n" << why;
  }
  EXPECT_GT(checks["no mismatches or resets (clients)"].at("churn").at("rounds").get<int>(), 0);
  EXPECT_EQ(v.at("summary").at("cpu_workers").size(), 2u);

  // The NDJSON log: stats snapshots with the runner's annotations, a final one after the drain.
  std::ifstream log(dir / "samples.ndjson");
  int run_samples = 0, final_samples = 0;
  json last;
  for (std::string line; std::getline(log, line);) {
    json s = json::parse(line);
    EXPECT_EQ(s.at("program"), "proxy");
    EXPECT_EQ(s.at("mode"), mode);
    (s.at("soak").at("phase") == "run" ? run_samples : final_samples)++;
    last = s;
  }
  EXPECT_GE(run_samples, 5);
  EXPECT_EQ(final_samples, 1);
  // The mode in effect: the proxy's own mode_effective when its stats carry one, else the mode asked.
  if (last.contains("mode_effective")) {
    EXPECT_EQ(v.at("mode_effective"), last.at("mode_effective"));
    EXPECT_EQ(v.at("mode_effective_source"), "stats");
  } else {
    EXPECT_EQ(v.at("mode_effective"), mode);
    EXPECT_NE(r.out.find("soak verdict: PASS  (" + mode + ", in effect as asked,"), std::string::npos) << why;
  }
  EXPECT_EQ(checks["drained after the clients stopped"].at("open_fds_idle").get<int>() > 0, true);

  // --report recomputes the same verdict from the log directory.
  RunResult again = run_soak({"--report", dir.string()}, 30s);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(read_json(dir / "verdict.json"), v);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Modes, SoakE2E, ::testing::ValuesIn(proxy_modes()),
                         [](const auto& info) { return info.param; });

// A made-up log in which every invariant the verdict judges from the samples is broken.
TEST(SoakVerdict, CatchesStallsLeaksAndErrors) {
  fs::path dir = temp_dir("verdict");
  json meta = {{"mode", "rw"}, {"workers", 2}, {"client_only", false}, {"duration_s", 40}, {"run_s", 40},
               {"interval_s", 1}, {"warmup_s", 4}, {"connections", 32}, {"client_threads", 2}, {"length", "1024"},
               {"rate", "0"}, {"stream_connections", 0}, {"churn_connections", 8}, {"stop_reason", "duration"},
               {"stats_misses", 0}, {"drain_s", nullptr}, {"proxy", "127.0.0.1:1"}, {"stats", "127.0.0.1:2"},
               {"log_dir", dir.string()},
               {"tolerances", {{"fd_max_minus_min", 2}, {"rss_growth_pct", 10}, {"rss_growth_mib", 8}}},
               {"exit_codes", {{"client", 1}, {"stream", nullptr}, {"proxy", 0}, {"server", 0}}}};
  std::ofstream(dir / "meta.json") << meta.dump() << "\n";
  {
    std::ofstream samples(dir / "samples.ndjson");
    for (int i = 1; i <= 40; ++i) {
      bool stalled = i >= 20 && i < 23;  // three intervals without a byte
      auto worker = [&](int id) {
        return json{{"id", id}, {"connections_total", id == 0 ? 40 : 0}, {"bytes", id == 0 ? i * 1000 : 0},
                    {"cpu", {{"user_pct", 1.0}, {"sys_pct", 2.0}, {"user_s", 0.1 * i}, {"sys_s", 0.2 * i}}},
                    {"counters", {{"resets", i > 30 ? 3 : 0}, {"connect_failed", 0}, {"connect_timeout", 0},
                                  {"idle_timeouts", 0}, {"rw_fallbacks", 0}}}};
      };
      json s = {{"version", 1}, {"program", "proxy"}, {"mode", "rw"},
                {"totals", {{"connections_active", 32}, {"connections_total", 40}, {"bytes", i * 1000},
                            {"bytes_per_s", stalled ? 0.0 : 1000.0}, {"bytes_per_s_avg", 1000.0}}},
                {"process", {{"open_fds", 83 + i / 4}, {"rss_bytes", 5000000 + i * 1000000}}},  // both leak
                {"workers", {worker(0), worker(1)}},
                {"listeners", json::array({{{"refused", 0}}})},
                {"soak", {{"t", i}, {"phase", "run"}, {"quiet", true}, {"held", true}}}};
      samples << s.dump() << "\n";
    }
  }
  std::ofstream(dir / "churn.ndjson") << R"({"rc":1,"ok":false,"messages":10,"errors":{"total":1},"first_error":"boom"})"
                                      << "\n";
  std::ofstream(dir / "client.json")
      << R"({"type":"summary","ok":false,"messages":5,"errors":{"mismatches":1,"short_reads":0,"resets":0,"connect_failures":0,"total":1},"latency_us":null,"first_error":"connection 3: mismatch"})"
      << "\n";

  RunResult r = run_soak({"--report", dir.string()}, 30s);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("soak verdict: FAIL"), std::string::npos) << r.out;
  json v = read_json(dir / "verdict.json");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("ok"), false);
  auto checks = checks_by_name(v);
  for (const char* name : {"throughput never stalled", "no mismatches or resets (clients)",
                           "no resets or failed connects (proxy)", "open fds flat after warm-up",
                           "RSS flat after warm-up", "every worker got work", "drained after the clients stopped"}) {
    EXPECT_EQ(checks[name].at("ok"), false) << name << ": " << checks[name].dump(2);
  }
  EXPECT_EQ(checks["CPU reported per worker"].at("ok"), true);
  EXPECT_EQ(checks["stats socket answered"].at("ok"), true);
  EXPECT_EQ(checks["throughput never stalled"].at("longest_stall_intervals"), 3);
  EXPECT_NE(checks["no mismatches or resets (clients)"].at("detail").get<std::string>().find("mismatch"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(SoakCli, HelpAndBadCommandLines) {
  RunResult help = run_soak({"-h"}, 30s);
  EXPECT_EQ(help.code, 0);
  for (const char* word : {"SOAK_DURATION", "SOAK_MODE", "SOAK_WORKERS", "SOAK_CONNECTIONS", "SOAK_INTERVAL",
                           "--json-out", "--bin", "--client-only"})
    EXPECT_NE(help.out.find(word), std::string::npos) << word;

  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--bogus"}, {"--mode", "copy"}, {"--duration", "soon"}, {"--interval", "0"}, {"--workers", "0"},
           {"--connections"}, {"--stats-port", "70000"}}) {
    RunResult r = run_soak(bad, 30s);
    EXPECT_EQ(r.code, 2) << bad[0] << "\n" << r.err;
    std::istringstream err(r.err);
    std::string first, second;
    std::getline(err, first);
    std::getline(err, second);
    EXPECT_EQ(first.rfind("soak: ", 0), 0u) << r.err;
    EXPECT_EQ(second.rfind("usage: soak", 0), 0u) << r.err;
  }
  // Environment variables are checked like flags.
  RunResult env = run({"/usr/bin/env", "SOAK_MODE=copy", soak_script()}, 30s);
  EXPECT_EQ(env.code, 2) << env.err;
  EXPECT_NE(env.err.find("bad mode 'copy'"), std::string::npos) << env.err;
}

}  // namespace
}  // namespace sp::test
