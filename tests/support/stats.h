// Reads a snapshot from a stats socket (the plain `stats` command over TCP), for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sp::test {

// Each non-empty line of text parsed as JSON (a bad line throws: it fails the test).
std::vector<nlohmann::json> json_lines(const std::string& text);

// One JSON snapshot from 127.0.0.1:port; an empty object if the socket does not answer.
nlohmann::json stats_snapshot(uint16_t port);

// A worker counter of a snapshot, summed over its workers (0 where absent).
uint64_t worker_sum(const nlohmann::json& snap, const char* name);

// Waits until the proxy behind the stats socket has no live session (the wait-for-port probe
// included); false if that does not happen within `timeout`.
bool wait_until_no_sessions(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// For a test's failure message: the connections of the stats socket on `port` (ss) and, when `pid`
// is given, each of that process's threads with its state and the top of its kernel stack (where it sleeps). Seen
// once in a full suite (StatsE2E.BusyProxy.../auto): `echo stats | nc` did not end within 20 s.
std::string stats_diagnosis(uint16_t port, int pid = 0);

}  // namespace sp::test
