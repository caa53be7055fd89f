#include "client/report.h"

#include <algorithm>
#include <cstdio>

namespace sp::client {
namespace {

double safe_div(double a, double b) { return b > 0 ? a / b : 0.0; }
double us(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string format(const char* fmt, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

nlohmann::json throughput_json(const Window& w) {
  const Sample& s = *w.sample;
  double bps = safe_div(payload_bytes(*w.options, s), w.duration_s);
  double both = safe_div(static_cast<double>(s.bytes_sent + s.bytes_received), w.duration_s);
  return {
      {"bytes_per_s", bps},
      {"messages_per_s", safe_div(static_cast<double>(s.messages), w.duration_s)},
      {"mbit_per_s", bps * 8 / 1e6},
      {"sent_bytes_per_s", safe_div(static_cast<double>(s.bytes_sent), w.duration_s)},
      {"received_bytes_per_s", safe_div(static_cast<double>(s.bytes_received), w.duration_s)},
      {"both_ways_bytes_per_s", both},
      {"both_ways_mbit_per_s", both * 8 / 1e6},
  };
}

nlohmann::json latency_json(const Options& o, const Histogram& h) {
  if (o.mode != Mode::kPingPong || h.empty()) return nullptr;
  return {
      {"min", us(h.min())},           {"mean", h.mean() / 1000.0},    {"p50", us(h.percentile(50))},
      {"p90", us(h.percentile(90))},  {"p99", us(h.percentile(99))},  {"p999", us(h.percentile(99.9))},
      {"max", us(h.max())},           {"samples", h.count()},
  };
}

nlohmann::json errors_json(const Errors& e) {
  return {{"mismatches", e.mismatches},
          {"short_reads", e.short_reads},
          {"resets", e.resets},
          {"connect_failures", e.connect_failures},
          {"total", e.total()}};
}

nlohmann::json window_json(const Window& w) {
  const Sample& s = *w.sample;
  return {
      {"duration_s", w.duration_s},
      {"messages", s.messages},
      {"bytes_sent", s.bytes_sent},
      {"bytes_received", s.bytes_received},
      {"throughput", throughput_json(w)},
      {"latency_us", latency_json(*w.options, s.latency)},
      {"errors", errors_json(s.errors)},
  };
}

std::string rate_text(double bytes_per_s) {
  if (bytes_per_s >= 1e9) return format("%.2f GB/s", bytes_per_s / 1e9);
  if (bytes_per_s >= 1e6) return format("%.2f MB/s", bytes_per_s / 1e6);
  return format("%.2f KB/s", bytes_per_s / 1e3);
}

std::string direction(const Options& o) {
  switch (o.mode) {
    case Mode::kPingPong: return "pingpong";
    case Mode::kDownload: return "download";
    case Mode::kStream: return o.no_echo ? "stream upload (no echo)" : o.bidir ? "stream echo, both directions" : "stream echo";
  }
  return "";
}

}  // namespace

void Errors::add(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kMismatch: ++mismatches; break;
    case ErrorKind::kShortRead: ++short_reads; break;
    case ErrorKind::kReset: ++resets; break;
    case ErrorKind::kConnectFailure: ++connect_failures; break;
  }
}

void Errors::merge(const Errors& o) {
  mismatches += o.mismatches;
  short_reads += o.short_reads;
  resets += o.resets;
  connect_failures += o.connect_failures;
}

void Stalls::merge(const Stalls& o) {
  connections += o.connections;
  longest_gap_ns = std::max(longest_gap_ns, o.longest_gap_ns);
}

void Sample::merge(const Sample& o) {
  messages += o.messages;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  latency.merge(o.latency);
  errors.merge(o.errors);
  stalls.merge(o.stalls);
}

void Sample::reset() {
  messages = bytes_sent = bytes_received = 0;
  latency.reset();
  errors = Errors{};
  stalls = Stalls{};
}

double payload_bytes(const Options& o, const Sample& s) {
  switch (o.mode) {
    case Mode::kPingPong: return static_cast<double>(s.bytes_sent);
    case Mode::kDownload: return static_cast<double>(s.bytes_received);
    case Mode::kStream:
      return static_cast<double>(o.no_echo ? s.bytes_sent : s.bytes_received);
  }
  return 0;
}

double headline_bytes(const Options& o, const Sample& s) {
  return o.bidir ? static_cast<double>(s.bytes_sent + s.bytes_received) : payload_bytes(o, s);
}

nlohmann::json interval_json(const Window& w, int index) {
  nlohmann::json j = {{"type", "interval"}, {"index", index}, {"start_s", w.start_s}, {"end_s", w.start_s + w.duration_s}};
  j.update(window_json(w));
  return j;
}

nlohmann::json summary_json(const Window& w) {
  const Options& o = *w.options;
  nlohmann::json j = {
      {"type", "summary"},
      {"mode", mode_name(o.mode)},
      {"server", w.server},
      {"connections", o.connections},
      {"threads", o.threads},
      {"length", o.length},
      {"echo", o.echo()},
      {"bidir", o.bidir},
      {"verified", o.verify},
      {"warmup_s", static_cast<double>(o.warmup_ns) / 1e9},
      {"count_per_connection", o.timed() ? nlohmann::json(nullptr) : nlohmann::json(o.count)},
      {"target_rate_msgs_per_s", o.rate > 0 ? nlohmann::json(o.rate) : nlohmann::json(nullptr)},
  };
  j.update(window_json(w));
  if (o.mode == Mode::kPingPong) {
    const Stalls& st = w.sample->stalls;
    j["stalls"] = {{"after_s", static_cast<double>(o.stall_ns) / 1e9},
                   {"connections", st.connections},
                   {"longest_gap_us", static_cast<double>(st.longest_gap_ns) / 1e3}};
  } else {
    j["stalls"] = nullptr;
  }
  if (!w.first_error.empty()) j["first_error"] = w.first_error;
  j["ok"] = w.sample->errors.total() == 0;
  return j;
}

std::string interval_text(const Window& w) {
  const Sample& s = *w.sample;
  double bps = safe_div(headline_bytes(*w.options, s), w.duration_s);
  std::string line = format("[%7.2f-%7.2f s] %10.1f msg/s %12s %10.1f Mbit/s", w.start_s, w.start_s + w.duration_s,
                            safe_div(static_cast<double>(s.messages), w.duration_s), rate_text(bps).c_str(),
                            bps * 8 / 1e6);
  if (w.options->mode == Mode::kPingPong && !s.latency.empty())
    line += format("  latency us p50 %.1f p99 %.1f max %.1f", us(s.latency.percentile(50)),
                   us(s.latency.percentile(99)), us(s.latency.max()));
  if (s.errors.total()) line += format("  errors %llu", static_cast<unsigned long long>(s.errors.total()));
  return line + "\n";
}

std::string summary_text(const Window& w) {
  const Options& o = *w.options;
  const Sample& s = *w.sample;
  double bps = safe_div(headline_bytes(o, s), w.duration_s);
  std::string out = format("Bandwidth: %.2f KB/sec\n", bps / 1024);
  out += format("messages:   %llu in %.3f s (%.1f msg/s)\n", static_cast<unsigned long long>(s.messages),
                w.duration_s, safe_div(static_cast<double>(s.messages), w.duration_s));
  out += format("bytes:      sent %llu, received %llu; %s %s (%.1f Mbit/s)\n",
                static_cast<unsigned long long>(s.bytes_sent), static_cast<unsigned long long>(s.bytes_received),
                direction(o).c_str(), rate_text(bps).c_str(), bps * 8 / 1e6);
  if (o.mode == Mode::kPingPong && !s.latency.empty()) {
    const Histogram& h = s.latency;
    out += format("latency us: min %.1f  mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
                  us(h.min()), h.mean() / 1000, us(h.percentile(50)), us(h.percentile(90)), us(h.percentile(99)),
                  us(h.percentile(99.9)), us(h.max()));
  }
  if (o.mode == Mode::kPingPong && s.stalls.connections)
    out += format("stalls:     %llu connection(s) moved no byte for %.3g s or more (longest gap %.1f ms)\n",
                  static_cast<unsigned long long>(s.stalls.connections), static_cast<double>(o.stall_ns) / 1e9,
                  static_cast<double>(s.stalls.longest_gap_ns) / 1e6);
  const Errors& e = s.errors;
  if (e.total() == 0) {
    out += std::string("errors:     none") + (o.verify ? " (every received byte verified)\n" : " (bytes not verified: --no-verify)\n");
  } else {
    out += format("errors:     mismatches %llu, short reads %llu, resets %llu, connect failures %llu\n",
                  static_cast<unsigned long long>(e.mismatches), static_cast<unsigned long long>(e.short_reads),
                  static_cast<unsigned long long>(e.resets), static_cast<unsigned long long>(e.connect_failures));
  }
  return out;
}

std::string banner_text(const Options& o, const std::string& server) {
  std::string out = format("tcp_ping_client: %s to %s, %d connection%s on %d thread%s, %zu-byte messages, ",
                           direction(o).c_str(), server.c_str(), o.connections, o.connections == 1 ? "" : "s",
                           o.threads, o.threads == 1 ? "" : "s", o.length);
  if (o.timed()) out += format("%.3g s", static_cast<double>(o.duration_ns) / 1e9);
  else if (o.count == 0) out += "until SIGINT/SIGTERM";
  else out += format("%llu per connection", static_cast<unsigned long long>(o.count));
  if (o.rate > 0) out += format(", %.1f msg/s total", o.rate);
  if (o.warmup_ns > 0) out += format(" after a %.3g s warmup", static_cast<double>(o.warmup_ns) / 1e9);
  return out + "\n";
}

}  // namespace sp::client
