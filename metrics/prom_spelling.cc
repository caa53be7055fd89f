#include "metrics/prom_spelling.h"

#include <limits>
#include <utility>

namespace sp::metrics {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string underscored(std::string_view path) {
  std::string n(path);
  for (char& c : n)
    if (c == '.') c = '_';
  return n;
}

// "cpu.user_s" -> "cpu_user_seconds": Prometheus spells its base units out.
std::string base_name(std::string_view path, bool legacy) {
  if (starts_with(path, "counters.")) path.remove_prefix(9);  // a worker's counters are its series
  std::string n = underscored(path);
  static const std::pair<std::string_view, std::string_view> kSuffixes[] = {
      {"_per_s_avg", "_per_second_avg"}, {"_per_s", "_per_second"}, {"_pct", "_percent"}, {"_unix_s", "_seconds"},
      {"_s", "_seconds"}};
  for (const auto& [from, to] : kSuffixes) {
    if (legacy && from == "_unix_s") continue;
    if (ends_with(n, from)) {
      n.resize(n.size() - from.size());
      n += to;
      break;
    }
  }
  return n;
}

std::string counter_name(std::string name, MetricKind kind) {
  if (kind == MetricKind::kCounter && !ends_with(name, "_total")) name += "_total";
  return name;
}

Spelling omitted(std::string instead) {
  Spelling s;
  s.as = Spelling::As::kOmitted;
  s.instead = std::move(instead);
  return s;
}

Spelling series(std::string family, const char* type, std::string help = "", std::string dimension = "") {
  Spelling s;
  s.family = std::move(family);
  s.type = type;
  s.help = std::move(help);
  s.dimension = std::move(dimension);
  return s;
}

// The rows that are one dimension of a family, in any scope with a prefix.
struct Dimension {
  std::string_view path;
  std::string_view family;  // after the scope's prefix
  std::string_view label;
  std::string_view help;
};
constexpr std::string_view kCpuHelp = "CPU seconds used since start, by mode: user or system";
constexpr std::string_view kSwitchesHelp =
    "context switches since start, by kind: voluntary (blocked or slept) or involuntary (preempted)";
constexpr Dimension kDimensions[] = {
    {"cpu.user_s", "cpu_seconds_total", "mode=\"user\"", kCpuHelp},
    {"cpu.sys_s", "cpu_seconds_total", "mode=\"system\"", kCpuHelp},
    {"ctx_switches.voluntary", "context_switches_total", "kind=\"voluntary\"", kSwitchesHelp},
    {"ctx_switches.involuntary", "context_switches_total", "kind=\"involuntary\"", kSwitchesHelp},
    {"counters.bytes_in", "bytes_total", "direction=\"in\"",
     "bytes moved since start, by direction: in (client to remote) or out (remote to client)"},
    {"counters.bytes_out", "bytes_total", "direction=\"out\"",
     "bytes moved since start, by direction: in (client to remote) or out (remote to client)"},
    {"counters.read_calls", "syscalls_total", "call=\"read\"", "system calls the pumps made, by call: read, write or splice"},
    {"counters.write_calls", "syscalls_total", "call=\"write\"", "system calls the pumps made, by call: read, write or splice"},
    {"counters.splice_calls", "syscalls_total", "call=\"splice\"", "system calls the pumps made, by call: read, write or splice"},
    {"counters.pipe_pool_hits", "pipe_pool_takes_total", "result=\"hit\"",
     "pipes the pumps took, by result: hit (from the worker's pool) or miss (created)"},
    {"counters.pipe_pool_misses", "pipe_pool_takes_total", "result=\"miss\"",
     "pipes the pumps took, by result: hit (from the worker's pool) or miss (created)"},
};

// counters.buffers_16k ... counters.pipes_over_1m, and their sums: two histograms of sizes.
bool size_histogram(std::string_view path, Spelling* out) {
  static const std::pair<std::string_view, std::string_view> kKinds[] = {
      {"counters.buffers_", "buffer"}, {"counters.pipes_", "pipe"}};
  for (const auto& [prefix, what] : kKinds) {
    std::string family = "spliceproxy_worker_" + std::string(what) + "_size_bytes";
    std::string help = "sizes of the " + std::string(what == "buffer" ? "read/write buffers" : "pipes") +
                       " handed to pumps since start";
    if (path == "counters." + std::string(what) + "_bytes_handed") {
      *out = series(family, "histogram", help);
      out->as = Spelling::As::kSum;
      return true;
    }
    if (!starts_with(path, prefix)) continue;
    std::string_view bucket = path.substr(prefix.size());
    double le;
    if (bucket == "over_1m") le = std::numeric_limits<double>::infinity();
    else if (bucket == "1m") le = 1 << 20;
    else if (ends_with(bucket, "k")) le = std::stod(std::string(bucket.substr(0, bucket.size() - 1))) * 1024;
    else return false;
    *out = series(family, "histogram", help);
    out->as = Spelling::As::kBucket;
    out->le = le;
    return true;
  }
  return false;
}

// The rates and percentages the JSON carries over its interval, and what to ask Prometheus instead.
std::string rate_instead(const Scope& scope, std::string_view path) {
  std::string prefix(scope.prom);
  bool totals = scope.json == kTotalsScope.json;
  if (starts_with(path, "cpu.")) {
    std::string mode = starts_with(path, "cpu.user") ? "user" : "system";
    std::string family = totals || scope.json == kProcessScope.json ? "process_cpu_seconds_total"
                                                                     : prefix + "cpu_seconds_total{mode=\"" + mode + "\"}";
    return "rate(" + family + "[1m]) * 100";
  }
  if (path == "window_s") return "the window of the JSON's rates: in Prometheus, the range of rate()";
  if (starts_with(path, "bytes_per_s"))
    return totals ? "sum(rate(spliceproxy_worker_bytes_total[1m]))"
                  : "sum without (direction) (rate(spliceproxy_worker_bytes_total[1m]))";
  if (path == "connections_per_s") return "sum(rate(spliceproxy_worker_connections_total[1m]))";
  if (path == "accepted_per_s") return "rate(spliceproxy_listener_accepted_total[1m])";
  return "rate() of the counter it is measured from";
}

}  // namespace

Spelling spell(const Scope& scope, std::string_view path, MetricKind kind, PromTarget target) {
  if (kind == MetricKind::kLabel) {
    if (path == "tid") return omitted("JSON only: a thread id is new with every restart");
    Spelling s;
    s.as = Spelling::As::kInfoLabel;
    return s;
  }
  if (ends_with(path, "_pct") || ends_with(path, "_per_s") || ends_with(path, "_per_s_avg") || path == "window_s")
    return omitted(rate_instead(scope, path));
  if (scope.json == kTotalsScope.json) {
    if (starts_with(path, "cpu.")) return omitted("process_cpu_seconds_total: every thread of the process");
    if (starts_with(path, "ctx_switches."))
      return omitted("spliceproxy_process_context_switches_total: every thread of the process");
    return omitted("sum(spliceproxy_worker_" + counter_name(base_name(path, false), kind) + ")");
  }
  if (scope.json == kProcessScope.json) {
    std::string process = target == PromTarget::kTextfile ? "spliceproxy_process_" : "process_";
    if (path == "rss_bytes") return series(process + "resident_memory_bytes", "gauge");
    if (path == "open_fds") return series(process + "open_fds", "gauge");
    if (path == "max_fds") return series(process + "max_fds", "gauge");
    if (path == "start_time_unix_s") return series(process + "start_time_seconds", "gauge");
    if (path == "cpu.user_s" || path == "cpu.sys_s") {
      Spelling s = series(process + "cpu_seconds_total", "counter", "user and system CPU seconds of the process (getrusage)");
      s.adds = true;
      return s;
    }
  }
  if (scope.json == kWorkerScope.json && path == "bytes")
    return omitted("sum without (direction) (spliceproxy_worker_bytes_total)");
  Spelling histogram;
  if (size_histogram(path, &histogram)) return histogram;
  for (const Dimension& d : kDimensions)
    if (d.path == path)
      return series(std::string(scope.prom) + std::string(d.family), kind == MetricKind::kCounter ? "counter" : "gauge",
                    std::string(d.help), std::string(d.label));
  return series(counter_name(std::string(scope.prom) + base_name(path, false), kind),
                kind == MetricKind::kCounter ? "counter" : "gauge");
}

std::string legacy_prometheus_name(const Scope& scope, std::string_view path, MetricKind kind) {
  if (kind == MetricKind::kLabel) return "";
  return counter_name(std::string(scope.prom) + base_name(path, true), kind);
}

}  // namespace sp::metrics
