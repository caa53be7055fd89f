// Running tcp_ping_client (the real binary, --json) and reading what it reports: every stdout line
// parsed, the summary, and the checks every relay test makes of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sp::test {

struct ClientRun {
  int code = -1;
  std::vector<nlohmann::json> lines;  // every stdout line, parsed
  nlohmann::json summary;             // the last one
  std::string out;
  std::string err;
};

ClientRun parse_output(int code, std::string out, std::string err);
// tcp_ping_client -s 127.0.0.1 -p PORT --json ARGS..., killed after `timeout`.
ClientRun client(uint16_t port, std::vector<std::string> args,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));
std::string describe(const ClientRun& r);
// Exit 0, a summary that says ok, and no mismatch, short read, reset or failed connect.
void expect_clean(const ClientRun& r);

}  // namespace sp::test
