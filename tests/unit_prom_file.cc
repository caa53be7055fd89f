// --stats-prom: the file is there from the start, replaced whole each interval (a reader never sees
// part of one), removed at exit; a path that cannot be written is an error naming it; a write that
// fails later is retried.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

#include "metrics/prom_file.h"
#include "metrics/stats_server.h"
#include "tests/support/fake_program.h"

namespace sp::metrics {
namespace {

using namespace std::chrono_literals;

// A directory of its own, removed with whatever is left in it even when an assertion fails.
struct TempDir {
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    path = std::string(base ? base : "/tmp") + "/sp-prom-XXXXXX";
    if (!::mkdtemp(path.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp");
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

TEST(PromFile, ReplacedWholeEveryIntervalAndRemovedAtExit) {
  FakeProgram program;
  TempDir tmp;
  std::string path = tmp.path + "/spliceproxy.prom";
  StatsOptions o;
  o.interval_ns = 20'000'000;
  o.prom_path = path;
  std::set<std::string> uptimes;
  int reads = 0;
  {
    auto server = start_stats(o, program.source(), false);
    ASSERT_TRUE(server);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!exists(path) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(exists(path)) << "not written at start";
    // Read as fast as we can while the stats thread rewrites it every 20 ms: every read is whole.
    deadline = std::chrono::steady_clock::now() + 600ms;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = slurp(path);
      ++reads;
      ASSERT_EQ(text.rfind("# HELP spliceproxy_info ", 0), 0u) << "read " << reads << " starts wrong";
      ASSERT_GT(text.size(), 1000u);
      ASSERT_NE(text.find("spliceproxy_listener_accept_pauses_total{listener=\"127.0.0.1:1\"} 0\n"), std::string::npos)
          << "read " << reads << " is cut short: " << text.substr(text.size() - 200);
      size_t at = text.find("\nspliceproxy_uptime_seconds ");
      ASSERT_NE(at, std::string::npos);
      uptimes.insert(text.substr(at, text.find('\n', at + 1) - at));
    }
  }
  EXPECT_GE(uptimes.size(), 5u) << "rewritten each interval (" << reads << " reads)";
  EXPECT_FALSE(exists(path)) << "removed at exit";
  EXPECT_FALSE(exists(path + ".tmp"));
}

TEST(PromFile, AnUnwritablePathIsAnErrorNamingIt) {
  FakeProgram program;
  StatsOptions o;
  o.prom_path = "/nonexistent-sp-dir/x.prom";
  try {
    start_stats(o, program.source(), false);
    FAIL() << "no error";
  } catch (const std::system_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("/nonexistent-sp-dir/x.prom"), std::string::npos) << what;
    EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
  }
}

TEST(PromFile, AFailedWriteIsRetriedAndLeavesNoTemporaryFile) {
  TempDir tmp;
  const std::string& dir = tmp.path;
  std::string path = dir + "/x.prom";
  {
    PromFile file(path);
    file.write("a 1\n");
    EXPECT_EQ(slurp(path), "a 1\n");
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ASSERT_EQ(::rmdir(dir.c_str()), 0);
    file.write("a 2\n");  // the directory is gone: logged, not fatal
    EXPECT_FALSE(exists(path));
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    file.write("a 3\n");
    EXPECT_EQ(slurp(path), "a 3\n");
    EXPECT_FALSE(exists(path + ".tmp"));
  }
  EXPECT_FALSE(exists(path));
  // A file another process put in place after ours is not ours to remove.
  {
    PromFile file(path);
    file.write("a 4\n");
    std::string other = dir + "/other";
    std::ofstream(other) << "b 1\n";
    ASSERT_EQ(::rename(other.c_str(), path.c_str()), 0);
  }
  EXPECT_EQ(slurp(path), "b 1\n");
}

}  // namespace
}  // namespace sp::metrics
