// The proxy's configuration and its command line (seed-compatible: -s -p -r -c -z -v -h).
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/address.h"
#include "common/flags.h"
#include "common/log.h"
#include "metrics/stats_server.h"
#include "server/paths/data_path.h"
#include "server/proxy/backend_pool.h"
#include "server/proxy/proxy_session.h"
#include "server/shell/server.h"

namespace sp {

constexpr uint16_t kProxyPort = 9998;
constexpr uint16_t kRemotePort = 9999;
constexpr const char* kDefaultStats = metrics::kDefaultStatsAddress;  // proxy-top looks there too

struct ProxyConfig {
  ServerOptions server;
  std::vector<BackendSpec> remotes{{HostPort{"127.0.0.1", kRemotePort}, 1}};  // -r, one or more
  BackendBalance remote_balance = BackendBalance::kRoundRobin;
  BackendChecks checks;
  DataPathOptions paths;  // --mode and the pumps' sizes
  ProxySessionOptions session;
  int64_t grace_ns = 5 * 1'000'000'000LL;
  std::string stats = kDefaultStats;  // HOST:PORT, unix:PATH or off
  int64_t stats_interval_ns = 1'000'000'000;
  std::string stats_log;  // empty: none; "-": stdout
  std::string stats_prom;  // empty: none
  int verbosity = 0;
  log::Format log_format = log::Format::kText;
  std::string handover;  // --handover PATH: empty, none
};

// Parses argv into a config. Returns the config, or the exit code when the program should stop
// (0 after -h/--version, 2 after a bad flag, with the reason and a pointer to --help printed).
std::variant<ProxyConfig, int> parse_proxy_command_line(int argc, const char* const* argv);

// The same, returning the error text instead of printing (for tests and fuzzing).
std::variant<ProxyConfig, std::string> try_parse_proxy_command_line(int argc, const char* const* argv);

}  // namespace sp
