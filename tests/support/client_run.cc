#include "tests/support/client_run.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/process.h"

namespace sp::test {

using nlohmann::json;

ClientRun parse_output(int code, std::string out, std::string err) {
  ClientRun r{code, {}, nullptr, std::move(out), std::move(err)};
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    r.lines.push_back(j);
  }
  if (!r.lines.empty()) r.summary = r.lines.back();
  return r;
}

ClientRun client(uint16_t port, std::vector<std::string> args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv =
      with_args({bin("tcp_ping_client"), "-s", "127.0.0.1", "-p", std::to_string(port), "--json"}, args);
  auto r = run(argv, timeout);
  return parse_output(r.code, r.out, r.err);
}

std::string describe(const ClientRun& r) { return "exit " + std::to_string(r.code) + "\nstdout: " + r.out + "\nstderr: " + r.err; }

void expect_clean(const ClientRun& r) {
  EXPECT_EQ(r.code, 0) << describe(r);
  ASSERT_TRUE(r.summary.is_object()) << describe(r);
  EXPECT_EQ(r.summary["type"], "summary");
  EXPECT_EQ(r.summary["ok"], true) << describe(r);
  for (const char* k : {"mismatches", "short_reads", "resets", "connect_failures"})
    EXPECT_EQ(r.summary["errors"][k], 0) << k << "\n" << describe(r);
}

}  // namespace sp::test
