// proxy: the splice / read-write TCP proxy.
#include <signal.h>

#include <cstdio>
#include <exception>

#include "common/log.h"
#include "common/signals.h"
#include "metrics/stats_server.h"
#include "server/proxy_config.h"
#include "server/proxy_session.h"
#include "server/remote.h"
#include "server/server.h"
#include "server/sockmap.h"
#include "server/stats_source.h"
#include "server/uring.h"

int main(int argc, char** argv) {
  using namespace sp;
  log::set_program("proxy");
  auto parsed = parse_proxy_command_line(argc, argv);
  if (auto* code = std::get_if<int>(&parsed)) return *code;
  ProxyConfig config = std::get<ProxyConfig>(std::move(parsed));
  log::set_level(log::level_for_verbosity(config.verbosity));
  block_signals({SIGINT, SIGTERM, SIGHUP});
  const char* mode = to_string(config.session.mode);
  if (config.session.mode == PumpMode::kUring) {
    if (std::string why = Uring::probe(); !why.empty()) {
      log::warn("--mode uring: ", why, ": relaying with read/write instead. To allow io_uring: sysctl "
                "kernel.io_uring_disabled=0; in a container, a seccomp profile that permits io_uring_setup, "
                "io_uring_enter and io_uring_register (docs/uring.md)");
      config.session.mode = PumpMode::kReadWrite;
      config.server.worker.uring = false;
    }
  }
  std::unique_ptr<Sockmap> sockmap;  // outlives the server: its workers' sessions sit in its maps
  if (config.session.mode == PumpMode::kSockmap) {
    std::string why;
    sockmap = Sockmap::open(&why);
    if (!sockmap) {
      log::warn("--mode sockmap: ", why, ": relaying with splice instead. To allow the kernel relay: run as root "
                "or with CAP_BPF and CAP_NET_ADMIN (in a container: --cap-add BPF --cap-add NET_ADMIN), on a "
                "kernel with CONFIG_BPF_STREAM_PARSER and the kfuncs bpf_cast_to_kern_ctx and bpf_rdonly_cast "
                "(Linux 6.2 and later; docs/sockmap.md)");
      config.session.mode = PumpMode::kSplice;
    }
    config.server.worker.sockmap = sockmap.get();
  }
  try {
    Remote remote(config.remote);
    SessionFactory factory = [&](WorkerEnv& env, Fd client, size_t) -> std::unique_ptr<Session> {
      return std::make_unique<ProxySession>(env, std::move(client), remote, config.session);
    };
    Server server(config.server, factory);
    for (const auto& addr : server.listen_addresses())
      log::announce("listening on ", addr.to_string(), ", forwarding to ", config.remote.to_string(), " (",
                to_string(config.session.mode), ", ",
                config.server.workers, " workers)");
    // Declared after the server: stops before the counters it reads go away.
    metrics::StatsOptions stats_options;
    stats_options.where = config.stats;
    stats_options.interval_ns = config.stats_interval_ns;
    stats_options.log_path = config.stats_log;
    stats_options.prom_path = config.stats_prom;
    metrics::StatsSource source = stats_source(server, "proxy", mode);
    source.mode_effective = to_string(config.session.mode);
    // The default address is best effort (another proxy may hold it); one asked for must work.
    auto stats = metrics::start_stats(stats_options, std::move(source), config.stats == kDefaultStats);
    if (stats && !stats->address().empty()) log::info("stats on ", stats->address());
    return serve_until_signalled(server, config.grace_ns, [&] {
      if (stats) stats->reopen_log();
    });
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
