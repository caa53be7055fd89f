// The one definition of every metric in a stats snapshot: its JSON name, type, unit and
// description, and how its value is taken from a Snapshot. The JSON rendering, the `help` and
// `schema` replies and the reference part of docs/stats.md are all generated from this table, so
// they cannot drift apart; so is the Prometheus text of the `metrics` reply (prometheus.h). Worker counters come from SP_WORKER_COUNTERS (metrics/counters.h).
#pragma once

#include <string>
#include <vector>

#include "metrics/snapshot.h"

namespace sp::metrics {

inline constexpr int kSchemaVersion = 1;

enum class MetricType { kInteger, kNumber, kString };

// What a value does over time, for Prometheus: a counter only grows (named *_total there), a
// gauge goes up and down, a label names or identifies (it becomes a label, not a series).
enum class MetricKind { kCounter, kGauge, kLabel };

struct MetricInfo {
  std::string name;  // path in the JSON, e.g. "totals.cpu.user_pct" or "workers[].counters.eagain"
  MetricType type;
  MetricKind kind;
  std::string unit;
  std::string description;
  std::string prometheus;  // the series it is in the `metrics` reply, or the label it becomes
};

const char* type_name(MetricType type);  // "integer", "number", "string"
const char* kind_name(MetricKind kind);  // "counter", "gauge", "label"

// Every metric in output order.
const std::vector<MetricInfo>& metric_table();

// One snapshot as a single line of JSON (no newline). Integers are clamped to 2^53 - 1 so every
// JSON reader keeps them exact; numbers are finite and rounded to a sensible precision.
std::string render_json(const Snapshot& snapshot);

// {"error": message} as one line of JSON (no newline); the message is reduced to printable ASCII.
std::string render_error(const std::string& message);

// The table as one line of JSON: {"version":1,"metrics":[{"name":..,"type":..,"kind":..,"unit":..,
// "description":..,"prometheus":..},...]}.
std::string render_schema();

// The table as aligned plain text, one metric per line (for `help`).
std::string metrics_text();

// The table as a Markdown table (for docs/stats.md).
std::string metrics_markdown();

}  // namespace sp::metrics
