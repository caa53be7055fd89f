// One snapshot in the Prometheus text exposition format (version 0.0.4), generated from the metric
// table like the JSON: the `metrics` reply of the stats socket and the --stats-prom file.
//
// Counters are named *_total, gauges are not; each scope has its own prefix (spliceproxy_ for the
// program and its totals, spliceproxy_process_, spliceproxy_worker_{worker="N"},
// spliceproxy_thread_{thread="NAME"}, spliceproxy_listener_{listener="HOST:PORT"}); the string and
// id fields become the labels of one *_info series per scope, whose value is 1.
//
// Pure code: no sockets, no files.
#pragma once

#include <string>
#include <string_view>

#include "metrics/snapshot.h"

namespace sp::metrics {

// HELP and TYPE lines, then the samples; every line ends with "\n".
std::string render_prometheus(const Snapshot& snapshot);

// Escaping of the text format: label values (\ " and newline) and HELP text (\ and newline).
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view text);

}  // namespace sp::metrics
