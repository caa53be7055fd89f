#include "metrics/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "metrics/metric_fields.h"
#include "metrics/prom_spelling.h"
#include "spliceproxy_version.h"

namespace sp::metrics {
namespace {

std::string value_text(const Value& value) {
  if (auto* i = std::get_if<uint64_t>(&value)) return std::to_string(*i);
  if (auto* s = std::get_if<std::string_view>(&value)) return std::string(*s);
  return number_text(std::get<double>(value));
}

double as_double(const Value& value) {
  if (auto* i = std::get_if<uint64_t>(&value)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&value)) return *d;
  return 0;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out += ',';
    out += part;
  }
  return out;
}

// The families in order of first appearance, each with its samples, rendered at the end: the format
// wants a family's samples together, and a family may gather rows of several fields.
class Exposition {
 public:
  explicit Exposition(PromTarget target) : target_(target) {}

  template <typename S>
  void scope(const Scope& scope, const Fields<S>& fields, const std::vector<const S*>& items,
             const std::string& extra_info = "", const std::string& extra_help = "") {
    if (items.empty()) return;
    const Field<S>* identity = nullptr;
    std::vector<const Field<S>*> info;
    for (const Field<S>& f : fields) {
      if (f.kind != MetricKind::kLabel) continue;
      if (f.path == scope.identity) identity = &f;
      else if (spell(scope, f.path, f.kind).as == Spelling::As::kInfoLabel) info.push_back(&f);
    }
    auto labels = [&](const S& item) {
      if (!identity) return std::string();
      return std::string(scope.label) + "=\"" + escape_label_value(value_text(identity->get(item))) + "\"";
    };
    if (!info.empty() || !extra_info.empty()) {
      std::string help = "always 1; the labels say" + extra_help;
      for (const Field<S>* f : info) {
        // Appended piece by piece: "literal" + std::string&& trips GCC 12's -Wrestrict (a false positive).
        help += ' ';
        help += prometheus_name(scope, f->path, f->kind);
        help += ": ";
        help += f->description;
        help += ';';
      }
      Family& family = family_of(std::string(scope.prom) + "info", help, "gauge");
      for (const S* item : items) {
        std::vector<std::string> parts = {labels(*item), extra_info};
        for (const Field<S>* f : info) {
          std::string value = value_text(f->get(*item));
          // Prometheus reads an empty label as an absent one: leave it out.
          if (value.empty()) continue;
          parts.push_back(prometheus_name(scope, f->path, f->kind) + "=\"" + escape_label_value(value) + "\"");
        }
        family.add(joined(parts), uint64_t{1}, false);
      }
    }
    for (const Field<S>& f : fields) {
      if (f.kind == MetricKind::kLabel) continue;
      Spelling how = spell(scope, f.path, f.kind, target_);
      if (how.as == Spelling::As::kOmitted) continue;
      std::string help = how.help.empty() ? f.description + (f.unit.empty() ? "" : " (" + f.unit + ")") : how.help;
      Family& family = family_of(how.family, help, how.type);
      for (const S* item : items) {
        Value value = f.get(*item);
        if (how.as == Spelling::As::kBucket) family.bucket(labels(*item), how.le, as_double(value));
        else if (how.as == Spelling::As::kSum) family.sum(labels(*item), as_double(value));
        else family.add(joined({labels(*item), how.dimension}), value, how.adds);
      }
    }
  }

  std::string take() {
    std::string out;
    for (const Family& f : families_) f.render(out);
    return out;
  }

 private:
  struct Histogram {
    std::string labels;
    std::vector<std::pair<double, double>> buckets;  // upper bound, count in it alone
    double sum = 0;
  };
  struct Family {
    std::string name, help, type;
    std::vector<std::pair<std::string, Value>> samples;  // labels, value
    std::vector<Histogram> histograms;

    // A second row with the same labels is the same number (a worker's connections_total and
    // counters.connections_total), unless the family's rows add up.
    void add(const std::string& labels, const Value& value, bool adds) {
      for (auto& [l, v] : samples)
        if (l == labels) {
          if (adds) v = as_double(v) + as_double(value);
          return;
        }
      samples.emplace_back(labels, value);
    }
    Histogram& histogram(const std::string& labels) {
      for (Histogram& h : histograms)
        if (h.labels == labels) return h;
      return histograms.emplace_back(Histogram{labels, {}, 0});
    }
    void bucket(const std::string& labels, double le, double count) { histogram(labels).buckets.emplace_back(le, count); }
    void sum(const std::string& labels, double value) { histogram(labels).sum = value; }

    void render(std::string& out) const {
      out += "# HELP " + name + " " + escape_help(help) + "\n# TYPE " + name + " " + type + "\n";
      for (const auto& [labels, value] : samples) line(out, name, labels, value_text(value));
      for (const Histogram& h : histograms) {
        double cumulative = 0;
        for (const auto& [le, count] : h.buckets) {
          cumulative += count;
          line(out, name + "_bucket", joined({h.labels, "le=\"" + number_text(le) + "\""}), number_text(cumulative));
        }
        line(out, name + "_sum", h.labels, number_text(h.sum));
        line(out, name + "_count", h.labels, number_text(cumulative));
      }
    }
    static void line(std::string& out, const std::string& name, const std::string& labels, const std::string& value) {
      out += name;
      if (!labels.empty()) out += "{" + labels + "}";
      out += " " + value + "\n";
    }
  };

  Family& family_of(const std::string& name, const std::string& help, const char* type) {
    for (Family& f : families_)
      if (f.name == name) return f;
    return families_.emplace_back(Family{name, help, type, {}, {}});
  }

  PromTarget target_;
  std::vector<Family> families_;
};

template <typename T>
std::vector<const T*> pointers(const std::vector<T>& items) {
  std::vector<const T*> out;
  for (const T& item : items) out.push_back(&item);
  return out;
}

}  // namespace

std::string number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string prometheus_name(const Scope& scope, std::string_view path, MetricKind kind) {
  if (kind == MetricKind::kLabel) {
    if (path == scope.identity) return std::string(scope.label);
    if (scope.json.empty() && path == "version") return "schema_version";  // "version" is the program's
    std::string n(path);
    for (char& c : n)
      if (c == '.') c = '_';
    return n;
  }
  return spell(scope, path, kind).family;
}

std::string prometheus_reference(const Scope& scope, std::string_view path, MetricKind kind) {
  Spelling how = spell(scope, path, kind);
  switch (how.as) {
    case Spelling::As::kOmitted: return "– (" + how.instead + ")";
    case Spelling::As::kInfoLabel:
      if (path == scope.identity) return "label " + std::string(scope.label) + "=\"...\" of " + std::string(scope.prom) + "*";
      return std::string(scope.prom) + "info{" + prometheus_name(scope, path, kind) + "}";
    case Spelling::As::kBucket:
      return how.family + "_bucket{le=\"" + number_text(how.le) + "\"} (cumulative)";
    case Spelling::As::kSum: return how.family + "_sum";
    case Spelling::As::kSeries: break;
  }
  return how.dimension.empty() ? how.family : how.family + "{" + how.dimension + "}";
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

// Rows added with the conventions: they had no name before.
constexpr std::string_view kNewRows[] = {"max_fds", "start_time_unix_s", "counters.buffer_bytes_handed",
                                         "counters.pipe_bytes_handed", "host_tcp_memory_bytes",
                                         "host_tcp_pressure_bytes", "host_tcp_under_pressure"};

template <typename S>
void renames(std::string& out, const Scope& scope, const Fields<S>& fields) {
  for (const Field<S>& f : fields) {
    if (std::find(std::begin(kNewRows), std::end(kNewRows), f.path) != std::end(kNewRows)) continue;
    std::string old = f.kind == MetricKind::kLabel ? (f.path == "tid" ? std::string(scope.prom) + "info{tid}" : "")
                                                   : legacy_prometheus_name(scope, f.path, f.kind);
    std::string now = prometheus_reference(scope, f.path, f.kind);
    if (old.empty() || old == now || out.find("| `" + old + "` |") != std::string::npos) continue;
    out += "| `" + old + "` | `" + now + "` |\n";
  }
}

}  // namespace

std::string prometheus_renames_markdown() {
  std::string out = "| Before | Now |\n|---|---|\n";
  renames(out, kTopScope, top_fields());
  renames(out, kTotalsScope, totals_fields());
  renames(out, kProcessScope, process_fields());
  renames(out, kWorkerScope, worker_fields());
  renames(out, kThreadScope, thread_fields());
  renames(out, kListenerScope, listener_fields());
  renames(out, kRemoteScope, remote_fields());
  return out;
}

std::string render_prometheus(const Snapshot& s, PromTarget target) {
  Exposition e(target);
  e.scope(kTopScope, top_fields(), {&s}, "version=\"" + escape_label_value(SPLICEPROXY_VERSION) + "\"",
          " version: the program's version (--version);");
  e.scope(kTotalsScope, totals_fields(), {&s.totals});
  e.scope(kProcessScope, process_fields(), {&s.process});
  e.scope(kWorkerScope, worker_fields(), pointers(s.workers));
  e.scope(kThreadScope, thread_fields(), pointers(s.threads));
  e.scope(kListenerScope, listener_fields(), pointers(s.listeners));
  e.scope(kRemoteScope, remote_fields(), pointers(s.remotes));
  return e.take();
}

}  // namespace sp::metrics
