// One snapshot in the Prometheus text exposition format (version 0.0.4), generated from the metric
// table like the JSON: the `metrics` reply of the stats socket and the --stats-prom file.
//
// Each row is spelled by prom_spelling.h: counters named *_total, dimensions as labels, histograms
// of the buffer and pipe sizes, the standard process_* names, no interval rates; each scope has its
// own prefix (spliceproxy_, spliceproxy_worker_{worker="N"}, spliceproxy_thread_{thread="NAME"},
// spliceproxy_listener_{listener="HOST:PORT"}); the string fields become the labels of one *_info
// series per scope, whose value is 1.
//
// Pure code: no sockets, no files.
#pragma once

#include <string>
#include <string_view>

#include "metrics/snapshot.h"

namespace sp::metrics {

// Where the text goes. Scraped as the proxy's own target, the process is named as every client
// library names it (process_*); in a file for node_exporter's textfile collector those names are
// node_exporter's own (its process), and a second family of the same name is a gather error that
// drops ours: there they are spliceproxy_process_*.
enum class PromTarget { kScrape, kTextfile };

// HELP and TYPE lines, then the samples; every line ends with "\n".
std::string render_prometheus(const Snapshot& snapshot, PromTarget target = PromTarget::kScrape);

// The Markdown table of docs/prometheus.md: every name the text had before it followed Prometheus'
// conventions, with what replaces it (a series with its labels, or what to query instead).
std::string prometheus_renames_markdown();

// A number as the format spells it: Go-parsable, NaN, +Inf, -Inf.
std::string number_text(double value);

// Escaping of the text format: label values (\ " and newline) and HELP text (\ and newline).
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view text);

}  // namespace sp::metrics
