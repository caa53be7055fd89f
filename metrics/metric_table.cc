#include "metrics/metric_table.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "metrics/metric_fields.h"

namespace sp::metrics {
namespace {

using Json = nlohmann::ordered_json;

template <typename S>
void integer(Fields<S>& f, MetricKind kind, std::string path, std::string unit, std::string description,
             std::function<uint64_t(const S&)> get) {
  f.push_back({std::move(path), MetricType::kInteger, kind, 0, std::move(unit), std::move(description),
               [get](const S& s) -> Value { return get(s); }});
}

template <typename S>
void number(Fields<S>& f, MetricKind kind, std::string path, int decimals, std::string unit, std::string description,
            std::function<double(const S&)> get) {
  f.push_back({std::move(path), MetricType::kNumber, kind, decimals, std::move(unit), std::move(description),
               [get](const S& s) -> Value { return get(s); }});
}

template <typename S>
void text(Fields<S>& f, std::string path, std::string description, std::function<std::string_view(const S&)> get) {
  f.push_back({std::move(path), MetricType::kString, MetricKind::kLabel, 0, "", std::move(description),
               [get](const S& s) -> Value { return get(s); }});
}

constexpr MetricKind kCounter = MetricKind::kCounter;
constexpr MetricKind kGauge = MetricKind::kGauge;
constexpr MetricKind kLabel = MetricKind::kLabel;

// The worker counters that go up and down (SP_WORKER_GAUGES); every other one only grows.
constexpr MetricKind worker_counter_kind(std::string_view counter) {
#define SP_GAUGE_NAME(name) if (counter == #name) return kGauge;
  SP_WORKER_GAUGES(SP_GAUGE_NAME)
#undef SP_GAUGE_NAME
  return kCounter;
}

// The cpu{} and ctx_switches{} objects shared by totals, process, workers and threads.
template <typename S>
void cpu_fields(Fields<S>& f, const std::string& whose, bool many_threads,
                std::function<const CpuView&(const S&)> cpu) {
  std::string of_one_core = many_threads ? "in % of one core (above 100 when several cores are busy)" : "in % of one core";
  number<S>(f, kGauge, "cpu.user_pct", 2, "%", "user-mode CPU of " + whose + " over the last interval, " + of_one_core,
            [cpu](const S& s) { return cpu(s).user_pct; });
  number<S>(f, kGauge, "cpu.sys_pct", 2, "%", "kernel-mode CPU of " + whose + " over the last interval, " + of_one_core,
            [cpu](const S& s) { return cpu(s).sys_pct; });
  number<S>(f, kCounter, "cpu.user_s", 6, "s", "user-mode CPU seconds used by " + whose + " since start",
            [cpu](const S& s) { return cpu(s).user_s; });
  number<S>(f, kCounter, "cpu.sys_s", 6, "s", "kernel-mode CPU seconds used by " + whose + " since start",
            [cpu](const S& s) { return cpu(s).sys_s; });
  integer<S>(f, kCounter, "ctx_switches.voluntary", "switches", "voluntary context switches of " + whose + " (blocked or slept)",
             [cpu](const S& s) { return cpu(s).voluntary; });
  integer<S>(f, kCounter, "ctx_switches.involuntary", "switches", "involuntary context switches of " + whose + " (preempted)",
             [cpu](const S& s) { return cpu(s).involuntary; });
}

}  // namespace

const Fields<Snapshot>& top_fields() {
  static const Fields<Snapshot> f = [] {
    Fields<Snapshot> f;
    integer<Snapshot>(f, kLabel, "version", "", "schema version (1); fields are only ever added under the same version",
                      [](const Snapshot&) { return uint64_t{kSchemaVersion}; });
    text<Snapshot>(f, "program", "the program reporting: proxy or tcp_ping_server",
                   [](const Snapshot& s) { return std::string_view(s.program); });
    text<Snapshot>(f, "mode", "how bytes move, as asked: rw, splice, auto, uring or sockmap (proxy --mode); echo, sink or source (tcp_ping_server)",
                   [](const Snapshot& s) { return std::string_view(s.mode); });
    text<Snapshot>(f, "mode_effective",
                   "how bytes move, as running: differs from mode where a kernel feature was refused (uring falls back to rw, sockmap to splice)",
                   [](const Snapshot& s) { return std::string_view(s.mode_effective); });
    text<Snapshot>(f, "uring_features",
                   "--mode uring: the io_uring features in effect, comma-separated (defer_taskrun, batch_wait, "
                   "incremental, multishot, linked_sends, connect; docs/uring.md); empty in other modes",
                   [](const Snapshot& s) { return std::string_view(s.uring_features); });
    number<Snapshot>(f, kGauge, "uring_coalesce_s", 6, "s",
                     "--mode uring: how long a wait that finds nothing ready lasts at least (--uring-coalesce; "
                     "docs/uring.md); 0 when off, where the kernel lacks min_wait, and in other modes",
                     [](const Snapshot& s) { return s.uring_coalesce_us / 1e6; });
    integer<Snapshot>(f, kLabel, "pid", "", "process id", [](const Snapshot& s) { return static_cast<uint64_t>(s.pid); });
    number<Snapshot>(f, kGauge, "uptime_s", 3, "s", "time since the stats thread started, just after the listeners opened",
                     [](const Snapshot& s) { return s.uptime_s; });
    number<Snapshot>(f, kGauge, "time_unix_s", 3, "s", "wall-clock time of the sample, seconds since 1970-01-01 UTC",
                     [](const Snapshot& s) { return s.time_unix_s; });
    number<Snapshot>(f, kGauge, "interval_s", 3, "s", "the sampling interval (--stats-interval)",
                     [](const Snapshot& s) { return s.interval_s; });
    number<Snapshot>(f, kGauge, "window_s", 3, "s",
                     "the time the rates and percentages were measured over: the last closed sampling interval "
                     "(before the first one closes: the time since start)",
                     [](const Snapshot& s) { return s.window_s; });
    return f;
  }();
  return f;
}

const Fields<TotalsView>& totals_fields() {
  static const Fields<TotalsView> f = [] {
    Fields<TotalsView> f;
    integer<TotalsView>(f, kGauge, "connections_active", "connections", "live sessions, all workers",
                        [](const TotalsView& t) { return t.connections_active; });
    integer<TotalsView>(f, kCounter, "connections_total", "connections", "sessions started since start, all workers",
                        [](const TotalsView& t) { return t.connections_total; });
    number<TotalsView>(f, kGauge, "connections_per_s", 1, "connections/s", "sessions started per second over the last interval",
                       [](const TotalsView& t) { return t.connections_per_s; });
    integer<TotalsView>(f, kCounter, "bytes", "bytes", "bytes moved since start in both directions, all workers (sum of workers[].bytes)",
                        [](const TotalsView& t) { return t.bytes; });
    number<TotalsView>(f, kGauge, "bytes_per_s", 1, "bytes/s", "bytes moved per second over the last interval, all workers",
                       [](const TotalsView& t) { return t.bytes_per_s; });
    number<TotalsView>(f, kGauge, "bytes_per_s_avg", 1, "bytes/s", "bytes moved per second on average since start, all workers",
                       [](const TotalsView& t) { return t.bytes_per_s_avg; });
    cpu_fields<TotalsView>(f, "all threads of workers[] and threads[] together", true,
                           [](const TotalsView& t) -> const CpuView& { return t.cpu; });
    return f;
  }();
  return f;
}

const Fields<ProcessView>& process_fields() {
  static const Fields<ProcessView> f = [] {
    Fields<ProcessView> f;
    integer<ProcessView>(f, kGauge, "rss_bytes", "bytes", "resident memory of the process (/proc/self/statm)",
                         [](const ProcessView& p) { return p.rss_bytes; });
    integer<ProcessView>(f, kGauge, "open_fds", "fds", "open file descriptors of the process (entries of /proc/self/fd)",
                         [](const ProcessView& p) { return p.open_fds; });
    integer<ProcessView>(f, kGauge, "max_fds", "fds", "the open-file limit (RLIMIT_NOFILE, soft)",
                         [](const ProcessView& p) { return p.max_fds; });
    number<ProcessView>(f, kGauge, "start_time_unix_s", 3, "s",
                        "when the process started, seconds since 1970-01-01 UTC (/proc/self/stat after /proc/stat's btime)",
                        [](const ProcessView& p) { return p.start_time_unix_s; });
    integer<ProcessView>(f, kGauge, "threads", "threads", "threads in the process (/proc/self/status)",
                         [](const ProcessView& p) { return p.threads; });
    integer<ProcessView>(f, kGauge, "host_tcp_memory_bytes", "bytes",
                         "the kernel's TCP memory, whole machine, all processes (/proc/net/sockstat mem, in pages "
                         "times the page size): what net.ipv4.tcp_mem regulates; --mode sockmap's two-way bulk "
                         "leaves some charged after its sockets closed (docs/sockmap.md). 0 where unreadable",
                         [](const ProcessView& p) { return p.host_tcp_memory_bytes; });
    integer<ProcessView>(f, kGauge, "host_tcp_pressure_bytes", "bytes",
                         "net.ipv4.tcp_mem's second mark in bytes: past it the kernel squeezes every TCP socket's "
                         "buffers on the machine. 0 where unreadable",
                         [](const ProcessView& p) { return p.host_tcp_pressure_bytes; });
    integer<ProcessView>(f, kGauge, "host_tcp_under_pressure", "boolean",
                         "1 while the kernel regulates TCP memory (/proc/net/protocols: press): set past "
                         "host_tcp_pressure_bytes, cleared only below tcp_mem's first mark, so memory the kernel "
                         "never gives back keeps it set; windows stop growing on every TCP socket of the machine",
                         [](const ProcessView& p) { return p.host_tcp_under_pressure; });
    cpu_fields<ProcessView>(f, "the whole process, by getrusage (a cross-check for totals.cpu)", true,
                            [](const ProcessView& p) -> const CpuView& { return p.cpu; });
    return f;
  }();
  return f;
}

const Fields<WorkerView>& worker_fields() {
  static const Fields<WorkerView> f = [] {
    Fields<WorkerView> f;
    integer<WorkerView>(f, kLabel, "id", "", "worker number, 0 to --workers - 1",
                        [](const WorkerView& w) { return static_cast<uint64_t>(w.id); });
    integer<WorkerView>(f, kLabel, "tid", "", "kernel thread id (/proc/PID/task/TID)",
                        [](const WorkerView& w) { return static_cast<uint64_t>(w.tid); });
    text<WorkerView>(f, "mode_effective",
                     "how this worker moves bytes, as running: differs from the process's mode_effective where "
                     "this worker alone could not set up its io_uring or its share of the kernel relay",
                     [](const WorkerView& w) { return std::string_view(w.mode_effective); });
    integer<WorkerView>(f, kGauge, "connections_active", "connections", "live sessions on this worker",
                        [](const WorkerView& w) { return w.connections_active; });
    integer<WorkerView>(f, kCounter, "connections_total", "connections", "sessions handed to this worker since start",
                        [](const WorkerView& w) { return w.connections_total; });
    integer<WorkerView>(f, kCounter, "bytes", "bytes", "bytes this worker moved since start, both directions (bytes_in + bytes_out)",
                        [](const WorkerView& w) { return w.bytes; });
    number<WorkerView>(f, kGauge, "bytes_per_s", 1, "bytes/s", "bytes this worker moved per second over the last interval",
                       [](const WorkerView& w) { return w.bytes_per_s; });
    number<WorkerView>(f, kGauge, "bytes_per_s_avg", 1, "bytes/s", "bytes this worker moved per second on average since start",
                       [](const WorkerView& w) { return w.bytes_per_s_avg; });
    cpu_fields<WorkerView>(f, "this worker's thread", false, [](const WorkerView& w) -> const CpuView& { return w.cpu; });
#define SP_COUNTER_FIELD(name, unit, description)                  \
  integer<WorkerView>(f, worker_counter_kind(#name), "counters." #name, unit, description,   \
                      [](const WorkerView& w) { return w.counters.name; });
    SP_WORKER_COUNTERS(SP_COUNTER_FIELD)
#undef SP_COUNTER_FIELD
    return f;
  }();
  return f;
}

const Fields<ThreadView>& thread_fields() {
  static const Fields<ThreadView> f = [] {
    Fields<ThreadView> f;
    text<ThreadView>(f, "name", "acceptor (absent with --reuseport, where the workers accept), main (signals and shutdown) or stats",
                     [](const ThreadView& t) { return std::string_view(t.name); });
    integer<ThreadView>(f, kLabel, "tid", "", "kernel thread id", [](const ThreadView& t) { return static_cast<uint64_t>(t.tid); });
    cpu_fields<ThreadView>(f, "this thread", false, [](const ThreadView& t) -> const CpuView& { return t.cpu; });
    return f;
  }();
  return f;
}

const Fields<ListenerView>& listener_fields() {
  static const Fields<ListenerView> f = [] {
    Fields<ListenerView> f;
    text<ListenerView>(f, "address", "the bound address, HOST:PORT",
                       [](const ListenerView& l) { return std::string_view(l.address); });
    integer<ListenerView>(f, kCounter, "accepted", "connections", "connections accepted on this address since start",
                          [](const ListenerView& l) { return l.accepted; });
    number<ListenerView>(f, kGauge, "accepted_per_s", 1, "connections/s", "connections accepted per second over the last interval",
                         [](const ListenerView& l) { return l.accepted_per_s; });
    integer<ListenerView>(f, kCounter, "refused", "connections",
                          "connections accepted and closed at once: refused by a rule below, or out of descriptors "
                          "(on the reserved one)",
                          [](const ListenerView& l) { return l.refused; });
    integer<ListenerView>(f, kCounter, "over_capacity", "connections", "of the refused: over --max-connections",
                          [](const ListenerView& l) { return l.over_capacity; });
    integer<ListenerView>(f, kCounter, "denied", "connections", "of the refused: a source --deny matched or no --allow did",
                          [](const ListenerView& l) { return l.denied; });
    integer<ListenerView>(f, kCounter, "over_source_cap", "connections",
                          "of the refused: their source held --max-per-source live connections already",
                          [](const ListenerView& l) { return l.over_source_cap; });
    integer<ListenerView>(f, kCounter, "over_source_rate", "connections",
                          "of the refused: their source opened connections faster than --rate-per-source",
                          [](const ListenerView& l) { return l.over_source_rate; });
    integer<ListenerView>(f, kCounter, "accept_pauses", "events",
                          "times accepting paused briefly for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)",
                          [](const ListenerView& l) { return l.accept_pauses; });
    return f;
  }();
  return f;
}

namespace {

constexpr uint64_t kMaxExactInteger = (uint64_t{1} << 53) - 1;

Json to_json(const Value& value, int decimals) {
  if (auto* i = std::get_if<uint64_t>(&value)) return std::min(*i, kMaxExactInteger);
  if (auto* s = std::get_if<std::string_view>(&value)) return std::string(*s);
  double d = std::get<double>(value);
  if (!std::isfinite(d)) d = 0;
  double scale = std::pow(10.0, decimals);
  double rounded = std::round(d * scale) / scale;
  return std::isfinite(rounded) ? rounded : d;
}

template <typename S>
void put(Json& object, const Fields<S>& fields, const S& source) {
  for (const Field<S>& field : fields) {
    Json* at = &object;
    std::string_view path = field.path;
    for (size_t dot; (dot = path.find('.')) != std::string_view::npos; path.remove_prefix(dot + 1))
      at = &(*at)[std::string(path.substr(0, dot))];
    (*at)[std::string(path)] = to_json(field.get(source), field.decimals);
  }
}

template <typename S>
void describe(std::vector<MetricInfo>& out, const Scope& scope, const Fields<S>& fields) {
  for (const Field<S>& f : fields)
    out.push_back({std::string(scope.json) + f.path, f.type, f.kind, f.unit, f.description,
                   prometheus_reference(scope, f.path, f.kind)});
}

}  // namespace

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kInteger: return "integer";
    case MetricType::kNumber: return "number";
    case MetricType::kString: return "string";
  }
  return "?";
}

const char* kind_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::kCounter: return "counter";
    case MetricKind::kGauge: return "gauge";
    case MetricKind::kLabel: return "label";
  }
  return "?";
}

const Fields<RemoteView>& remote_fields() {
  static const Fields<RemoteView> f = [] {
    Fields<RemoteView> f;
    text<RemoteView>(f, "address", "the backend as -r gave it, HOST:PORT (the proxy's only; empty in tcp_ping_server)",
                     [](const RemoteView& r) { return std::string_view(r.address); });
    integer<RemoteView>(f, kGauge, "up", "boolean", "1 while the backend is used, 0 once --fall checks or connects in a row failed",
                        [](const RemoteView& r) { return r.up; });
    integer<RemoteView>(f, kGauge, "weight", "weight", "its weight (-r HOST:PORT,weight=N)",
                        [](const RemoteView& r) { return r.weight; });
    integer<RemoteView>(f, kGauge, "active", "sessions", "sessions connected to it now",
                        [](const RemoteView& r) { return r.active; });
    integer<RemoteView>(f, kCounter, "connects", "connections", "sessions that connected to it",
                        [](const RemoteView& r) { return r.connects; });
    integer<RemoteView>(f, kCounter, "connect_failures", "connections",
                        "sessions whose connect to it failed (every address) or timed out; the client was tried on another",
                        [](const RemoteView& r) { return r.connect_failures; });
    integer<RemoteView>(f, kCounter, "checks_passed", "checks", "active checks (--check-interval) whose connect worked",
                        [](const RemoteView& r) { return r.checks_passed; });
    integer<RemoteView>(f, kCounter, "checks_failed", "checks", "active checks whose connect failed or timed out",
                        [](const RemoteView& r) { return r.checks_failed; });
    integer<RemoteView>(f, kCounter, "went_down", "events", "times it was taken out",
                        [](const RemoteView& r) { return r.went_down; });
    return f;
  }();
  return f;
}

const std::vector<MetricInfo>& metric_table() {
  static const std::vector<MetricInfo> table = [] {
    std::vector<MetricInfo> t;
    describe(t, kTopScope, top_fields());
    describe(t, kTotalsScope, totals_fields());
    describe(t, kProcessScope, process_fields());
    describe(t, kWorkerScope, worker_fields());
    describe(t, kThreadScope, thread_fields());
    describe(t, kListenerScope, listener_fields());
    describe(t, kRemoteScope, remote_fields());
    return t;
  }();
  return table;
}

std::string render_json(const Snapshot& s) {
  Json j = Json::object();
  put(j, top_fields(), s);
  put(j["totals"], totals_fields(), s.totals);
  put(j["process"], process_fields(), s.process);
  auto array = [](auto& fields, const auto& items) {
    Json a = Json::array();
    for (const auto& item : items) {
      Json o = Json::object();
      put(o, fields, item);
      a.push_back(std::move(o));
    }
    return a;
  };
  j["workers"] = array(worker_fields(), s.workers);
  j["threads"] = array(thread_fields(), s.threads);
  j["listeners"] = array(listener_fields(), s.listeners);
  j["remotes"] = array(remote_fields(), s.remotes);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string render_error(const std::string& message) {
  Json j = {{"error", printable(message, 300)}};
  return j.dump();
}

std::string render_schema() {
  Json metrics = Json::array();
  for (const MetricInfo& m : metric_table())
    metrics.push_back({{"name", m.name}, {"type", type_name(m.type)}, {"kind", kind_name(m.kind)}, {"unit", m.unit},
                       {"description", m.description}, {"prometheus", m.prometheus}});
  Json j = {{"version", kSchemaVersion}, {"metrics", std::move(metrics)}};
  return j.dump();
}

std::string metrics_text() {
  size_t name_width = 0, unit_width = 4;
  for (const MetricInfo& m : metric_table()) {
    name_width = std::max(name_width, m.name.size());
    unit_width = std::max(unit_width, m.unit.size());
  }
  auto pad = [](std::string s, size_t width) {
    s.resize(std::max(s.size(), width), ' ');
    return s;
  };
  std::string out = pad("NAME", name_width) + "  " + pad("TYPE", 7) + "  " + pad("KIND", 7) + "  " + pad("UNIT", unit_width) +
                    "  DESCRIPTION\n";
  for (const MetricInfo& m : metric_table())
    out += pad(m.name, name_width) + "  " + pad(type_name(m.type), 7) + "  " + pad(kind_name(m.kind), 7) + "  " +
           pad(m.unit.empty() ? "-" : m.unit, unit_width) + "  " + m.description + "\n";
  return out;
}

std::string metrics_markdown() {
  std::string out = "| Name | Type | Kind | Unit | Description | Prometheus (`metrics`) |\n|---|---|---|---|---|---|\n";
  for (const MetricInfo& m : metric_table())
    out += "| `" + m.name + "` | " + type_name(m.type) + " | " + kind_name(m.kind) + " | " + m.unit + " | " + m.description +
           " | `" + m.prometheus + "` |\n";
  return out;
}

}  // namespace sp::metrics
