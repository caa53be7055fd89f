// What tcp_ping_client measures and how it prints it: counters and a latency histogram per
// thread (merged at the end), turned into an interval line or the summary, as text or JSON.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "client/options.h"
#include "common/histogram.h"

namespace sp::client {

enum class ErrorKind { kMismatch, kShortRead, kReset, kConnectFailure };

struct Errors {
  uint64_t mismatches = 0;        // a received byte differed from the pattern, or unexpected data
  uint64_t short_reads = 0;       // the server closed (EOF) before everything expected arrived
  uint64_t resets = 0;            // a send or receive failed: reset, broken pipe, other errno
  uint64_t connect_failures = 0;  // refused, unreachable, timed out

  void add(ErrorKind kind);
  void merge(const Errors& o);
  uint64_t total() const { return mismatches + short_reads + resets + connect_failures; }
};

// Connections whose message in flight moved no byte for --stall or longer, and the longest gap
// any had (counted whenever they happen, like errors: a stall is news in any window).
struct Stalls {
  uint64_t connections = 0;
  int64_t longest_gap_ns = 0;

  void merge(const Stalls& o);
};

// Traffic in one window (the measured run, or one interval) from one thread or merged.
struct Sample {
  uint64_t messages = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  Histogram latency;  // nanoseconds, pingpong only
  Errors errors;      // counted whenever they happen, warmup and drain included
  Stalls stalls;      // pingpong only

  void merge(const Sample& o);
  void reset();
};

// Everything needed to print a window.
struct Window {
  const Options* options = nullptr;
  std::string server;  // "127.0.0.1:9999"
  double start_s = 0;  // relative to the start of measurement
  double duration_s = 0;
  const Sample* sample = nullptr;
  std::string first_error;  // summary only
};

// The bytes throughput.bytes_per_s counts (see docs/tcp_ping_client.md): payload one way.
double payload_bytes(const Options& o, const Sample& s);
// The bytes the text output leads with: the same, or both directions with --bidir.
double headline_bytes(const Options& o, const Sample& s);

nlohmann::json interval_json(const Window& w, int index);
nlohmann::json summary_json(const Window& w);
std::string interval_text(const Window& w);
std::string summary_text(const Window& w);
// "tcp_ping_client: pingpong to 127.0.0.1:9999, 1 connection on 1 thread, 1024-byte messages, 100000 per connection"
std::string banner_text(const Options& o, const std::string& server);

}  // namespace sp::client
