// proxy: the splice / read-write TCP proxy.
#include <signal.h>

#include <cstdio>
#include <exception>

#include "common/log.h"
#include "common/signals.h"
#include "metrics/stats_server.h"
#include "server/paths/data_path.h"
#include "server/proxy/proxy_config.h"
#include "server/proxy/proxy_session.h"
#include "server/proxy/backend_pool.h"
#include "server/shell/handover.h"
#include "server/shell/server.h"
#include "server/shell/server_flags.h"
#include "server/shell/session_log.h"
#include "server/shell/stats_source.h"

int main(int argc, char** argv) {
  using namespace sp;
  log::set_program("proxy");
  auto parsed = parse_proxy_command_line(argc, argv);
  if (auto* code = std::get_if<int>(&parsed)) return *code;
  ProxyConfig config = std::get<ProxyConfig>(std::move(parsed));
  apply_log_flags(config.verbosity, config.log_format);
  enable_session_log(config.session.log_sessions);
  block_signals({SIGINT, SIGTERM, SIGHUP});
  DataPaths paths(config.paths);  // probes the mode's kernel feature; outlives the server's workers
  try {
    BackendPool backends(config.remotes, config.remote_balance, config.checks);
    Takeover takeover;
    if (!config.handover.empty()) takeover = take_listeners_over(config.handover);
    if (takeover.connection)
      log::info("took ", takeover.listeners.size(), " listening sockets over from the proxy at ", config.handover);
    Server server(
        config.server,
        [&](WorkerEnv& env) -> std::unique_ptr<WorkerProgram> {
          return std::make_unique<ProxyWorker>(env, paths, backends, config.session);
        },
        std::move(takeover.listeners));
    for (const auto& addr : server.listen_addresses())
      log::announce("listening on ", addr.to_string(), ", forwarding to ", backends.describe(), " (",
                to_string(paths.effective()), ", ", config.server.workers, " workers)");
    // Declared after the server: stops before the counters it reads go away.
    metrics::StatsOptions stats_options;
    stats_options.where = config.stats;
    stats_options.interval_ns = config.stats_interval_ns;
    stats_options.log_path = config.stats_log;
    stats_options.prom_path = config.stats_prom;
    metrics::StatsSource source = stats_source(server, "proxy", to_string(paths.asked()));
    source.mode_effective = to_string(paths.effective());
    source.uring_features = paths.uring_features();
    source.uring_coalesce_us = paths.uring_coalesce_us();
    for (const auto& b : backends.backends()) {
      const BackendCounters& c = b->counters();
      source.remotes.push_back({b->spec().where.to_string(), &c.up, &c.weight, &c.active, &c.connects,
                                &c.connect_failures, &c.checks_passed, &c.checks_failed, &c.went_down});
    }
    std::unique_ptr<metrics::StatsServer> stats;
    auto start_stats = [&] {
      // The default address is best effort (another proxy may hold it); one asked for must work.
      stats = metrics::start_stats(stats_options, std::move(source), config.stats == kDefaultStats);
      if (stats && !stats->address().empty()) log::info("stats on ", stats->address());
    };
    // Taking over, the old proxy holds the stats address until it has let the listeners go.
    if (!takeover.connection) start_stats();
    Restarts restarts{config.handover, [&] { stats.reset(); }, &takeover, nullptr};
    if (takeover.connection) restarts.on_serving = start_stats;
    return serve_until_signalled(
        server, config.grace_ns, [&] {
          if (stats) stats->reopen_log();
        },
        restarts);
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
