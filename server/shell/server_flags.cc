#include "server/shell/server_flags.h"

#include "metrics/stats_server.h"
#include "server/shell/server.h"

namespace sp {

void add_shared_server_flags(FlagParser& p, const SharedServerFlags& to, const std::string& stats_default) {
  p.add({'w', "workers", "N", "worker threads", "online CPUs (" + std::to_string(online_cpus()) + ")",
         [&workers = to.workers](const std::string& v) { workers = static_cast<int>(parse_int(v, 1, 1024)); }});
  p.add({0, "grace", "SECONDS", "on SIGINT/SIGTERM, let live connections finish for this long", "5",
         [&grace = to.grace_ns](const std::string& v) { grace = parse_duration_ns(v, 0, 3600'000'000'000); }});
  p.add({0, "stats", "WHERE", "stats socket: HOST:PORT, unix:PATH, or off", stats_default,
         [&stats = to.stats](const std::string& v) {
           metrics::parse_stats_endpoint(v);  // validate now: a bad value is a usage error
           stats = v;
         }});
  p.add({0, "stats-interval", "SECONDS", "sampling interval for rates and CPU percentages", "1",
         [&interval = to.stats_interval_ns](const std::string& v) {
           interval = parse_duration_ns(v, 10'000'000, 3600'000'000'000);
         }});
  p.add({0, "stats-log", "FILE", "append a JSON snapshot per interval to FILE (- for stdout); SIGHUP reopens it",
         "none", [&log = to.stats_log](const std::string& v) { log = v; }});
  p.add({0, "stats-prom", "FILE",
         "write the Prometheus text of each interval's snapshot to FILE, replaced atomically (FILE.tmp, then "
         "rename), for node_exporter's textfile collector (name it *.prom); removed at exit",
         "none", [&prom = to.stats_prom](const std::string& v) {
           if (v.empty() || v == "-" || v.back() == '/') throw std::invalid_argument("expected a file path, got '" + v + "'");
           prom = v;
         }});
  p.add({'v', "verbose", "", "log more: once for signals and the proxy's session log, twice for debug", "",
         [&verbosity = to.verbosity](const std::string&) { ++verbosity; }});
  p.add({0, "log-format", "FORMAT",
         "log lines as text (an RFC 3339 UTC time, program, level, message, key=value fields; under systemd "
         "the journal's <N> priority instead of the time) or json (one object a line: ts, level, program, msg "
         "and the fields)",
         "text", [&format = to.log_format](const std::string& v) { format = log::parse_format(v); }});
}

void apply_log_flags(int verbosity, log::Format format) {
  log::set_level(log::level_for_verbosity(verbosity));
  log::set_format(format);
  log::detect_journal();
}

}  // namespace sp
