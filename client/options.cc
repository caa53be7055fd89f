#include "client/options.h"

#include <cstdio>
#include <optional>
#include <stdexcept>

#include "common/flags.h"

namespace sp::client {
namespace {

// What the command line said, before defaults that depend on other flags are applied.
struct Raw {
  std::string server = "127.0.0.1";
  uint16_t port = kDefaultPort;
  std::optional<Mode> mode;
  bool download = false;
  std::optional<uint64_t> count;
  std::optional<int64_t> duration_ns;
  std::optional<size_t> length;
  int threads = 1;
};

void finish(Options& o, const Raw& raw) {
  o.server = parse_host_port(raw.server, raw.port);
  if (raw.download) {
    if (raw.mode && *raw.mode != Mode::kDownload)
      throw std::invalid_argument("--download cannot go with --mode " + std::string(mode_name(*raw.mode)));
    o.mode = Mode::kDownload;
  } else if (raw.mode) {
    o.mode = *raw.mode;
  } else if (o.no_echo || o.bidir) {
    o.mode = Mode::kStream;  // both only make sense for a stream
  }
  if (o.no_echo && o.mode != Mode::kStream)
    throw std::invalid_argument("--no-echo needs --mode stream (it sends to a --sink server)");
  if (o.bidir && o.mode != Mode::kStream) throw std::invalid_argument("--bidir needs --mode stream");
  if (o.bidir && o.no_echo) throw std::invalid_argument("--bidir needs an echo server; it cannot go with --no-echo");
  if (o.rate > 0 && o.mode != Mode::kPingPong)
    throw std::invalid_argument("--rate needs --mode pingpong (stream and download send as fast as they can)");
  if (o.warmup_ns > 0 && raw.count && o.mode != Mode::kPingPong)
    throw std::invalid_argument("--warmup in stream and download modes needs -t, not -n");
  if (raw.count && raw.duration_ns)
    throw std::invalid_argument("-n and -t cannot go together: run COUNT messages per connection or for a duration");
  if (raw.duration_ns) {
    o.duration_ns = *raw.duration_ns;
  } else if (raw.count) {
    o.count = *raw.count;
  } else if (o.mode == Mode::kPingPong) {
    o.count = kDefaultCount;
  } else {
    o.duration_ns = kDefaultStreamDurationNs;
  }
  if (o.timed()) o.count = 0;
  o.length = raw.length.value_or(o.mode == Mode::kPingPong ? kDefaultPingLength : kDefaultStreamLength);
  o.threads = std::min(raw.threads, o.connections);
}

FlagParser make_parser(Options& o, Raw& raw) {
  FlagParser p("tcp_ping_client",
               "Load and integrity client for tcp_ping_server and the proxy: ping-pong latency, or\n"
               "streaming throughput (echo, upload to --sink, download from --source), over N\n"
               "connections on T threads. Every received byte is checked against the test pattern.");
  p.add({'s', "server", "ADDR", "server (or proxy) address, HOST[:PORT] or [V6][:PORT]", "127.0.0.1",
         [&](const std::string& v) {
           parse_host_port(v, 0);  // validate now, apply -p later
           raw.server = v;
         }});
  p.add({'p', "port", "PORT", "server port when -s has none", std::to_string(kDefaultPort),
         [&](const std::string& v) { raw.port = parse_port(v); }});
  p.add({0, "mode", "MODE",
         "pingpong: one message in flight per connection, latency measured; stream: send "
         "continuously, verify the echo; download: only receive (server --source)",
         "pingpong", [&](const std::string& v) {
           if (v == "pingpong") raw.mode = Mode::kPingPong;
           else if (v == "stream") raw.mode = Mode::kStream;
           else if (v == "download") raw.mode = Mode::kDownload;
           else throw std::invalid_argument("invalid mode '" + v + "' (expected pingpong, stream or download)");
         }});
  p.add({0, "no-echo", "", "stream mode against tcp_ping_server --sink: only send, expect nothing back", "",
         [&](const std::string&) { o.no_echo = true; }});
  p.add({0, "bidir", "", "stream mode against an echo server: lead the text output with both directions (sent + received)", "",
         [&](const std::string&) { o.bidir = true; }});
  p.add({0, "download", "", "same as --mode download: receive and verify tcp_ping_server --source", "",
         [&](const std::string&) { raw.download = true; }});
  p.add({'c', "connections", "N", "concurrent connections", "1",
         [&](const std::string& v) { o.connections = static_cast<int>(parse_int(v, 1, 1'000'000)); }});
  p.add({'T', "threads", "N", "client threads, each with its own event loop (at most -c)", "1",
         [&](const std::string& v) { raw.threads = static_cast<int>(parse_int(v, 1, 1024)); }});
  p.add({'l', "length", "BYTES", "message size: one ping, or one write in stream mode (K/M suffixes)",
         "1024 for pingpong, 64K for stream and download",
         [&](const std::string& v) { raw.length = parse_size(v, 1, kMaxLength); }});
  p.add({'n', "count", "COUNT", "messages per connection; 0 = until SIGINT/SIGTERM",
         std::to_string(kDefaultCount) + " for pingpong",
         [&](const std::string& v) { raw.count = static_cast<uint64_t>(parse_int(v, 0, int64_t{1} << 50)); }});
  p.add({'t', "duration", "SECONDS", "run for this long instead of -n (e.g. 10, 2.5s, 500ms)",
         "10 for stream and download", [&](const std::string& v) {
           raw.duration_ns = parse_duration_ns(v, 1'000'000, int64_t{1'000'000} * 1'000'000'000);
         }});
  p.add({0, "rate", "MSGS_PER_S",
         "pingpong at a constant total rate over all connections; latency counts from the intended "
         "send time (no coordinated omission)",
         "unlimited", [&](const std::string& v) { o.rate = parse_double(v, 1e-3, 1e9); }});
  p.add({0, "stall", "SECONDS",
         "pingpong: count a connection as stalled when its message in flight moved no byte either way for this long "
         "(reported with the longest such gap)",
         "1", [&](const std::string& v) { o.stall_ns = parse_duration_ns(v, 1'000'000, int64_t{3600} * 1'000'000'000); }});
  p.add({0, "warmup", "SECONDS", "run this long before measuring; excluded from all results", "0",
         [&](const std::string& v) { o.warmup_ns = parse_duration_ns(v, 0, int64_t{3600} * 1'000'000'000); }});
  p.add({'i', "interval", "SECONDS", "print a report every SECONDS while running; 0 = off", "0",
         [&](const std::string& v) { o.interval_ns = parse_duration_ns(v, 0, int64_t{3600} * 1'000'000'000); }});
  p.add({0, "json", "", "print results as JSON on stdout (one line per interval, then the summary)", "",
         [&](const std::string&) { o.json = true; }});
  p.add({0, "no-verify", "", "do not check received bytes against the pattern (lengths still are)", "",
         [&](const std::string&) { o.verify = false; }});
  p.add({'v', "verbose", "", "log more (repeat for debug)", "", [&](const std::string&) { ++o.verbosity; }});
  p.then([&] { finish(o, raw); });
  return p;
}


}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kPingPong: return "pingpong";
    case Mode::kStream: return "stream";
    case Mode::kDownload: return "download";
  }
  return "?";
}

std::variant<Options, std::string> try_parse_command_line(int argc, const char* const* argv) {
  Options o;
  Raw raw;
  FlagParser p = make_parser(o, raw);
  bool help = false;
  if (auto err = p.try_parse(argc, argv, &help)) return *err;
  if (help) return p.usage();
  return o;
}

std::variant<Options, int> parse_command_line(int argc, const char* const* argv) {
  Options o;
  Raw raw;
  if (auto code = make_parser(o, raw).parse(argc, argv)) return *code;
  return o;
}

}  // namespace sp::client
