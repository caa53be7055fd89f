#include "server/proxy/proxy_config.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/cidr.h"
#include "server/shell/server_flags.h"

namespace sp {
namespace {

// Flags fill these first; ports given with -p/-c apply to addresses given without one.
struct RawAddresses {
  std::vector<std::string> listen;
  std::optional<uint16_t> port;
  std::vector<std::string> remotes;  // empty: 127.0.0.1
  std::optional<uint16_t> remote_port;
};

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto dash = item.find('-');
    int first = static_cast<int>(parse_int(item.substr(0, dash), 0, 4095));
    int last = dash == std::string::npos ? first : static_cast<int>(parse_int(item.substr(dash + 1), first, 4095));
    for (int c = first; c <= last; ++c) cpus.push_back(c);
  }
  if (cpus.empty()) throw std::invalid_argument("empty CPU list (expected e.g. 0,2-3)");
  return cpus;
}

void finish(ProxyConfig& c, const RawAddresses& raw) {
  uint16_t port = raw.port.value_or(kProxyPort);
  if (raw.listen.empty()) c.server.listen.push_back(HostPort{"0.0.0.0", port});
  for (const auto& text : raw.listen) c.server.listen.push_back(parse_host_port(text, port));
  c.remotes.clear();
  for (const std::string& text : raw.remotes.empty() ? std::vector<std::string>{"127.0.0.1"} : raw.remotes) {
    c.remotes.push_back(parse_backend(text, raw.remote_port.value_or(kRemotePort)));
    if (c.remotes.back().where.port == 0)
      throw std::invalid_argument("remote port 0: nothing can be reached there (-r HOST:PORT, -c PORT)");
  }
  if (c.remotes.size() > 64) throw std::invalid_argument("more than 64 remotes (-r)");
  c.paths.finish();
  if (c.verbosity >= 1) c.session.log_sessions = true;  // -v has always promised the connections
  if (c.paths.mode == DataPath::kUring && c.server.worker.busy_poll_ns > 0)
    throw std::invalid_argument("--busy-poll does not apply to --mode uring (its workers sleep in io_uring_enter)");
}

FlagParser make_parser(ProxyConfig& c, RawAddresses& raw) {
  c.server.workers = online_cpus();
  FlagParser p("proxy",
               "TCP proxy: accepts on every -s address and forwards each connection to the remote,\n"
               "moving bytes with read/write, splice(2) (-z), io_uring or inside the kernel (a BPF sockmap),\n"
               "on N epoll worker threads.");
  p.add({'s', "listen", "ADDR", "listen address, HOST[:PORT] or [V6][:PORT]; repeat for several NICs",
         "0.0.0.0", [&](const std::string& v) {
           parse_host_port(v, 0);  // validate now, apply the port default later
           raw.listen.push_back(v);
         }, /*repeatable=*/true});
  p.add({'p', "port", "PORT", "listen port for -s addresses given without one", std::to_string(kProxyPort),
         [&](const std::string& v) { raw.port = parse_port(v); }});
  p.add({'r', "remote", "ADDR",
         "remote (backend) to forward to, HOST[:PORT][,weight=N]; repeat for a pool that --remote-balance "
         "spreads clients over (weight 0: a standby, used when no other is up)",
         "127.0.0.1", [&](const std::string& v) {
           parse_backend(v, 1);  // validate now, apply -c later
           raw.remotes.push_back(v);
         }, /*repeatable=*/true});
  p.add({0, "remote-balance", "POLICY",
         "which remote a client goes to: round-robin (by weight), least-connections (per weight) or "
         "source-hash (the client's address picks it, and keeps it while it is up)",
         "round-robin", [&](const std::string& v) {
           if (v == "round-robin") c.remote_balance = BackendBalance::kRoundRobin;
           else if (v == "least-connections") c.remote_balance = BackendBalance::kLeastConnections;
           else if (v == "source-hash") c.remote_balance = BackendBalance::kSourceHash;
           else throw std::invalid_argument("invalid policy '" + v + "' (expected round-robin, least-connections or source-hash)");
         }});
  p.add({0, "check-interval", "SECONDS", "connect to every remote this often to tell whether it is up; 0 = no checks",
         "0", [&](const std::string& v) { c.checks.interval_ns = parse_duration_ns(v, 0, 3600'000'000'000); }});
  p.add({0, "check-timeout", "SECONDS", "a check's connect that takes longer fails", "1",
         [&](const std::string& v) { c.checks.timeout_ns = parse_duration_ns(v, 1'000'000, 60'000'000'000); }});
  p.add({0, "rise", "N", "checks in a row that must pass before a remote that was down is used again", "2",
         [&](const std::string& v) { c.checks.rise = static_cast<unsigned>(parse_int(v, 1, 1000)); }});
  p.add({0, "fall", "N", "checks, or client connects, that fail in a row before a remote is taken out", "3",
         [&](const std::string& v) { c.checks.fall = static_cast<unsigned>(parse_int(v, 1, 1000)); }});
  p.add({'c', "remote-port", "PORT", "remote port when -r has none", std::to_string(kRemotePort),
         [&](const std::string& v) { raw.remote_port = parse_port(v); }});
  p.add({'z', "splice", "", "use the splice pump (same as --mode splice)", "",
         [&](const std::string&) { c.paths.mode = DataPath::kSplice; }});
  p.add({0, "mode", data_path_names(), data_path_help(), "rw", [&](const std::string& v) {
           auto mode = parse_data_path(v);
           if (!mode) throw std::invalid_argument("invalid mode '" + v + "' (expected rw, splice, auto, uring or sockmap)");
           c.paths.mode = *mode;
         }});
  p.add({0, "pipe-size", "BYTES",
         "largest pipe per direction in splice mode (F_SETPIPE_SZ; K/M suffixes): pipes start at 16K and "
         "double while splices fill them",
         "1M", [&](const std::string& v) { c.paths.pumps.pipe_size = parse_size(v, 4096, 1ULL << 30); }});
  p.add({0, "buffer-size", "BYTES",
         "largest read/write buffer per direction, held only while data is in flight: buffers start at 16K "
         "and double while reads fill them",
         "1M", [&](const std::string& v) { c.paths.pumps.buffer_size = parse_size(v, 512, 1ULL << 30); }});
  p.add({0, "memory-budget", "BYTES",
         "per worker: buffers and pipes its sessions may hold before growth stops and every direction "
         "runs at 16K (counted in budget_refusals); in sockmap mode the buffers that move held bytes on "
         "and the widened send buffers",
         "64M", [&](const std::string& v) { c.paths.pumps.memory_budget = parse_size(v, 0, 1ULL << 40); }});
  p.add({0, "uring-features", "LIST",
         "--mode uring: the io_uring features to use where the kernel has them, comma-separated: defer_taskrun "
         "(Linux 6.1), batch_wait (6.12), incremental (6.12), multishot (6.0), linked_sends (5.18), connect (5.5); all; none "
         "(docs/uring.md)",
         uring_feature_list(kUringDefaultFeatures),
         [&](const std::string& v) { c.paths.uring_features = parse_uring_features(v); }});
  p.add({0, "uring-coalesce", "MICROSECONDS",
         "--mode uring: while a worker relays " + std::to_string(Uring::kCoalesceSessions) +
             " sessions or more, a wait that found nothing ready lasts at least this long (unless completions "
             "fill the ring), so what completes meanwhile is handled in one wake-up: fewer wake-ups and less CPU "
             "per message, each hop delayed up to this long (Linux 6.12's min_wait; 0 = off)",
         "0", [&](const std::string& v) { c.paths.uring.coalesce_us = static_cast<unsigned>(parse_int(v, 0, 1'000'000)); }});
  p.add({0, "sockmap-tcp-memory", "PERCENT",
         "--mode sockmap: relay new sessions with splice while the kernel's TCP memory is at or above this "
         "percentage of net.ipv4.tcp_mem's first mark, until it is 5 points below (two-way bulk through the kernel "
         "relay leaks TCP memory: docs/sockmap.md); 0 = every session with splice",
         "50", [&](const std::string& v) { c.paths.sockmap_tcp_memory_percent = static_cast<unsigned>(parse_int(v, 0, 1000)); }});
  p.add({0, "connect-timeout", "SECONDS", "give up connecting to the remote after this long", "5",
         [&](const std::string& v) { c.session.connect_timeout_ns = parse_duration_ns(v, 1'000'000, 3600'000'000'000); }});
  p.add({0, "idle-timeout", "SECONDS", "close a session with no traffic for this long; 0 = never", "0",
         [&](const std::string& v) { c.session.idle_timeout_ns = parse_duration_ns(v, 0, 864000'000'000'000); }});
  p.add({0, "send-proxy", "", "send the remote a PROXY protocol v1 header first (the client's address)", "",
         [&](const std::string&) {
           if (c.session.send_proxy == 2) throw std::invalid_argument("--send-proxy and --send-proxy-v2 exclude each other");
           c.session.send_proxy = 1;
         }});
  p.add({0, "send-proxy-v2", "", "send the remote a PROXY protocol v2 (binary) header first", "",
         [&](const std::string&) {
           if (c.session.send_proxy == 1) throw std::invalid_argument("--send-proxy and --send-proxy-v2 exclude each other");
           c.session.send_proxy = 2;
         }});
  p.add({0, "accept-proxy", "",
         "expect a PROXY protocol header (v1 or v2) from a load balancer in front before each client's "
         "stream; the addresses it carries stand for the client's (--send-proxy passes them on)",
         "", [&](const std::string&) { c.session.accept_proxy = true; }});
  p.add({0, "accept-proxy-timeout", "SECONDS", "--accept-proxy: close a client whose header is not whole after this long",
         "5", [&](const std::string& v) {
           c.session.accept_proxy_timeout_ns = parse_duration_ns(v, 1'000'000, 3600'000'000'000);
         }});
  p.add({0, "allow", "CIDR",
         "admit only clients whose address is in one of the --allow prefixes, e.g. 10.0.0.0/8 or "
         "2001:db8::/32 (repeat; IPv4 rules match IPv4-mapped IPv6 too)",
         "everyone", [&](const std::string& v) { c.server.source_rules.allow.push_back(parse_cidr(v)); }, true});
  p.add({0, "deny", "CIDR", "refuse clients whose address is in this prefix, before --allow is checked (repeat)",
         "none", [&](const std::string& v) { c.server.source_rules.deny.push_back(parse_cidr(v)); }, true});
  p.add({0, "max-per-source", "N", "refuse a client whose address holds N live connections already; 0 = no cap",
         "0", [&](const std::string& v) { c.server.source_rules.max_per_source = parse_int(v, 0, 100'000'000); }});
  p.add({0, "rate-per-source", "N",
         "refuse a client whose address opens more than N connections a second (a burst of N allowed); 0 = "
         "no limit",
         "0", [&](const std::string& v) { c.server.source_rules.rate_per_source = parse_double(v, 0, 1e9); }});
  p.add({0, "handover", "PATH",
         "restart without dropping a connection: take the listening sockets over from the proxy that "
         "listens on this unix socket (if one does; it then drains and exits), and listen there for the "
         "next one",
         "none", [&](const std::string& v) { c.handover = v; }});
  p.add({0, "max-connections", "N", "refuse (accept and close) connections beyond N live ones; 0 = no limit",
         "0", [&](const std::string& v) { c.server.max_connections = parse_int(v, 0, 100'000'000); }});
  p.add({0, "balance", "POLICY", "worker choice: round-robin or least-connections", "round-robin",
         [&](const std::string& v) {
           if (v == "round-robin") c.server.balance = Balance::kRoundRobin;
           else if (v == "least-connections") c.server.balance = Balance::kLeastConnections;
           else throw std::invalid_argument("invalid policy '" + v + "' (expected round-robin or least-connections)");
         }});
  p.add({0, "reuseport", "", "each worker accepts on its own SO_REUSEPORT socket (no acceptor thread)", "",
         [&](const std::string&) { c.server.reuseport = true; }});
  p.add({0, "pin", "CPU_LIST", "pin worker k to the k-th CPU of the list, e.g. 0,1 or 0-3", "not pinned",
         [&](const std::string& v) { c.server.pin_cpus = parse_cpu_list(v); }});
  p.add({0, "busy-poll", "USEC",
         "before a worker sleeps, poll this long for new events (lower latency, at the cost of a core "
         "kept busy); 0 = off",
         "0", [&](const std::string& v) {
           c.server.worker.busy_poll_ns = parse_int(v, 0, 1'000'000) * 1000;
         }});
  add_shared_server_flags(
      p, {c.server.workers, c.grace_ns, c.stats, c.stats_interval_ns, c.stats_log, c.stats_prom, c.verbosity,
          c.log_format},
      kDefaultStats);
  p.add({0, "log-sessions", "", "log a line when a session ends (client, remote, bytes, duration, how it ended); on with -v",
         "off", [&](const std::string&) { c.session.log_sessions = true; }});
  p.then([&] { finish(c, raw); });
  return p;
}


}  // namespace

std::variant<ProxyConfig, std::string> try_parse_proxy_command_line(int argc, const char* const* argv) {
  ProxyConfig c;
  RawAddresses raw;
  if (auto err = make_parser(c, raw).try_parse(argc, argv)) return *err;
  return c;
}

std::variant<ProxyConfig, int> parse_proxy_command_line(int argc, const char* const* argv) {
  ProxyConfig c;
  RawAddresses raw;
  if (auto code = make_parser(c, raw).parse(argc, argv)) return *code;
  return c;
}

}  // namespace sp
