// The rows of the metric table, for the renderers inside metrics/: metric_table.cc (JSON, `help`,
// `schema`, docs/stats.md) and prometheus.cc (the Prometheus text format). Not for use outside
// metrics/; everyone else reads the table through metric_table.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "metrics/metric_table.h"
#include "metrics/snapshot.h"

namespace sp::metrics {

using Value = std::variant<uint64_t, double, std::string_view>;

// One metric of a scope S (the snapshot, a worker, a thread...). `path` may be dotted
// ("cpu.user_pct"): the JSON renderer nests objects, Prometheus joins the parts with '_'.
template <typename S>
struct Field {
  std::string path;
  MetricType type;
  MetricKind kind;
  int decimals;  // numbers only: rounding in JSON
  std::string unit;
  std::string description;
  std::function<Value(const S&)> get;
};

template <typename S>
using Fields = std::vector<Field<S>>;

const Fields<Snapshot>& top_fields();
const Fields<TotalsView>& totals_fields();
const Fields<ProcessView>& process_fields();
const Fields<WorkerView>& worker_fields();
const Fields<ThreadView>& thread_fields();
const Fields<ListenerView>& listener_fields();
const Fields<RemoteView>& remote_fields();

// Where a scope's rows go: their JSON path prefix, their Prometheus name prefix, and for the
// scopes with many elements the field that tells them apart and the label it becomes.
struct Scope {
  std::string_view json;       // "workers[]."
  std::string_view prom;       // "spliceproxy_worker_"
  std::string_view identity;   // "id" (empty: one element)
  std::string_view label;      // "worker"
};
inline constexpr Scope kTopScope{"", "spliceproxy_", "", ""};
inline constexpr Scope kTotalsScope{"totals.", "spliceproxy_", "", ""};
inline constexpr Scope kProcessScope{"process.", "spliceproxy_process_", "", ""};
inline constexpr Scope kWorkerScope{"workers[].", "spliceproxy_worker_", "id", "worker"};
inline constexpr Scope kThreadScope{"threads[].", "spliceproxy_thread_", "name", "thread"};
inline constexpr Scope kListenerScope{"listeners[].", "spliceproxy_listener_", "address", "listener"};
inline constexpr Scope kRemoteScope{"remotes[].", "spliceproxy_remote_", "address", "remote"};

// prometheus.cc: the Prometheus family of a counter or gauge ("workers[].cpu.user_s" ->
// "spliceproxy_worker_cpu_seconds_total", its dimension mode="user" aside), or the label a kLabel
// field becomes ("mode" -> "mode"; the top scope's "version", the schema's, -> "schema_version").
std::string prometheus_name(const Scope& scope, std::string_view path, MetricKind kind);
// What the docs show for a field: the series with its dimension, `label worker`,
// `spliceproxy_info{pid}`, a histogram's bucket or sum, or what to query instead of a JSON-only row.
std::string prometheus_reference(const Scope& scope, std::string_view path, MetricKind kind);

}  // namespace sp::metrics
