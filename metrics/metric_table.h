// The one definition of every metric in a stats snapshot: its JSON name, type, unit and
// description, and how its value is taken from a Snapshot. The JSON rendering, the `help` and
// `schema` replies and the reference part of docs/stats.md are all generated from this table, so
// they cannot drift apart. Worker counters come from SP_WORKER_COUNTERS (metrics/counters.h).
#pragma once

#include <string>
#include <vector>

#include "metrics/snapshot.h"

namespace sp::metrics {

inline constexpr int kSchemaVersion = 1;

enum class MetricType { kInteger, kNumber, kString };

struct MetricInfo {
  std::string name;  // path in the JSON, e.g. "totals.cpu.user_pct" or "workers[].counters.eagain"
  MetricType type;
  std::string unit;
  std::string description;
};

const char* type_name(MetricType type);  // "integer", "number", "string"

// Every metric in output order.
const std::vector<MetricInfo>& metric_table();

// One snapshot as a single line of JSON (no newline). Integers are clamped to 2^53 - 1 so every
// JSON reader keeps them exact; numbers are finite and rounded to a sensible precision.
std::string render_json(const Snapshot& snapshot);

// {"error": message} as one line of JSON (no newline); the message is reduced to printable ASCII.
std::string render_error(const std::string& message);

// The table as one line of JSON: {"version":1,"metrics":[{"name":..,"type":..,"unit":..,
// "description":..},...]}.
std::string render_schema();

// The table as aligned plain text, one metric per line (for `help`).
std::string metrics_text();

// The table as a Markdown table (for docs/stats.md).
std::string metrics_markdown();

}  // namespace sp::metrics
