// The flags the proxy and tcp_ping_server share, declared once (same names, ranges, help):
// -w/--workers, --grace, --stats, --stats-interval, --stats-log, --stats-prom, --log-format and -v.
#pragma once

#include <cstdint>
#include <string>

#include "common/flags.h"
#include "common/log.h"

namespace sp {

// Where the parsed values go; every reference must outlive the parser.
struct SharedServerFlags {
  int& workers;
  int64_t& grace_ns;
  std::string& stats;  // HOST:PORT, unix:PATH or off (validated while parsing)
  int64_t& stats_interval_ns;
  std::string& stats_log;
  std::string& stats_prom;
  int& verbosity;
  log::Format& log_format;
};

// After parsing: the program's log as the flags ask (level, format; the journal's prefixes when
// stderr is the journal's stream).
void apply_log_flags(int verbosity, log::Format format);

// stats_default: what --stats is when not given ("127.0.0.1:9997" for the proxy, "off" for the
// ping server), shown in -h.
void add_shared_server_flags(FlagParser& p, const SharedServerFlags& to, const std::string& stats_default);

}  // namespace sp
