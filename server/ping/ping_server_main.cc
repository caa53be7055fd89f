// tcp_ping_server: an epoll echo server (or sink, or source) for load tests.
#include <signal.h>

#include <cstdio>

#include "common/flags.h"
#include "common/log.h"
#include "common/signals.h"
#include "metrics/stats_server.h"
#include "server/ping/echo_session.h"
#include "server/shell/server.h"
#include "server/shell/server_flags.h"
#include "server/shell/stats_source.h"

int main(int argc, char** argv) {
  using namespace sp;
  log::set_program("tcp_ping_server");
  ServerOptions options;
  options.workers = online_cpus();
  std::string listen = "0.0.0.0";
  uint16_t port = 9999;
  ServeMode mode = ServeMode::kEcho;
  PumpMode pump_mode = PumpMode::kReadWrite;
  int64_t grace_ns = 5'000'000'000;
  int verbosity = 0;
  log::Format log_format = log::Format::kText;
  metrics::StatsOptions stats;  // off by default: the proxy owns 127.0.0.1:9997

  FlagParser p("tcp_ping_server", "Echo server for tcp_ping_client: echoes every byte back, or discards (--sink),\nor sends a continuous pattern (--source), on N epoll worker threads.");
  p.add({'s', "listen", "ADDR", "listen address, HOST[:PORT] or [V6][:PORT]", "0.0.0.0",
         [&](const std::string& v) { parse_host_port(v, 0), listen = v; }});
  p.add({'p', "port", "PORT", "listen port when -s has none", "9999", [&](const std::string& v) { port = parse_port(v); }});
  p.add({0, "sink", "", "discard what clients send instead of echoing it", "",
         [&](const std::string&) { mode = ServeMode::kSink; }});
  p.add({0, "source", "", "send the test pattern continuously to every client (download tests)", "",
         [&](const std::string&) { mode = ServeMode::kSource; }});
  p.add({0, "splice", "", "echo through a pipe with splice(2) instead of read/write", "",
         [&](const std::string&) { pump_mode = PumpMode::kSplice; }});
  add_shared_server_flags(
      p, {options.workers, grace_ns, stats.where, stats.interval_ns, stats.log_path, stats.prom_path, verbosity, log_format},
      "off");
  if (auto code = p.parse(argc, argv)) return *code;
  apply_log_flags(verbosity, log_format);

  block_signals({SIGINT, SIGTERM, SIGHUP});
  try {
    options.listen.push_back(parse_host_port(listen, port));
    Server server(options, [&](WorkerEnv& env) -> std::unique_ptr<WorkerProgram> {
      return std::make_unique<EchoWorker>(env, PumpOptions{}, mode, pump_mode);
    });
    for (const auto& addr : server.listen_addresses()) log::announce("listening on ", addr.to_string());
    const char* mode_name = mode == ServeMode::kSink ? "sink" : mode == ServeMode::kSource ? "source" : "echo";
    auto stats_server = metrics::start_stats(stats, stats_source(server, "tcp_ping_server", mode_name), false);
    if (stats_server && !stats_server->address().empty()) log::info("stats on ", stats_server->address());
    return serve_until_signalled(server, grace_ns, [&] {
      if (stats_server) stats_server->reopen_log();
    });
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
