// How each row of the metric table is spelled in the Prometheus text, by Prometheus' conventions:
// counters and not the rates the proxy computes over its interval (Prometheus takes rate() itself),
// dimensions as labels (cpu_seconds_total{mode="user"}, not cpu_user_seconds_total), the buffer and
// pipe size counts as histograms, the standard process_* names, and no label that changes with
// every restart on any series but spliceproxy_info. The JSON keeps its conveniences.
//
// Pure code: used by prometheus.cc (the text) and the reference in docs/stats.md.
#pragma once

#include <string>
#include <string_view>

#include "metrics/metric_fields.h"
#include "metrics/prometheus.h"

namespace sp::metrics {

struct Spelling {
  enum class As {
    kSeries,     // a sample of `family`, with `dimension` as one more label when it is set
    kInfoLabel,  // a label of the scope's *_info series, or the label that tells its items apart
    kBucket,     // a bucket of the histogram `family`: the items of size at most `le` (cumulative)
    kSum,        // the _sum of the histogram `family`
    kOmitted,    // in the JSON only; `instead` says what to query
  };
  As as = As::kSeries;
  std::string family;          // the whole name: "spliceproxy_worker_cpu_seconds_total", "process_open_fds"
  const char* type = "gauge";  // "counter", "gauge" or "histogram"
  std::string help;            // the family's when several rows share it; empty: the row's own description
  std::string dimension;       // `mode="user"`
  bool adds = false;           // rows of the family with the same labels add up (process_cpu_seconds_total)
  double le = 0;               // kBucket: the upper bound in bytes; +infinity for the last
  std::string instead;         // kOmitted
};

Spelling spell(const Scope& scope, std::string_view path, MetricKind kind, PromTarget target = PromTarget::kScrape);

// The name the same row had in the Prometheus text before these conventions (docs/prometheus.md
// lists old names with their replacements); empty for a label.
std::string legacy_prometheus_name(const Scope& scope, std::string_view path, MetricKind kind);

}  // namespace sp::metrics
