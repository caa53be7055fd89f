#include "metrics/prometheus.h"

#include <charconv>
#include <cmath>
#include <unordered_set>
#include <vector>

#include "metrics/metric_fields.h"
#include "spliceproxy_version.h"

namespace sp::metrics {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string underscored(std::string_view path) {
  std::string n(path);
  for (char& c : n)
    if (c == '.') c = '_';
  return n;
}

// "cpu.user_s" -> "cpu_user_seconds": Prometheus spells its base units out.
std::string base_name(std::string_view path) {
  if (path.substr(0, 9) == "counters.") path.remove_prefix(9);  // a worker's counters are its series
  std::string n = underscored(path);
  static const std::pair<std::string_view, std::string_view> kSuffixes[] = {
      {"_per_s_avg", "_per_second_avg"}, {"_per_s", "_per_second"}, {"_pct", "_percent"}, {"_s", "_seconds"}};
  for (const auto& [from, to] : kSuffixes)
    if (ends_with(n, from)) {
      n.resize(n.size() - from.size());
      n += to;
      break;
    }
  return n;
}

std::string value_text(const Value& value) {
  if (auto* i = std::get_if<uint64_t>(&value)) return std::to_string(*i);
  if (auto* s = std::get_if<std::string_view>(&value)) return std::string(*s);
  double d = std::get<double>(value);
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

class Exposition {
 public:
  template <typename S>
  void scope(const Scope& scope, const Fields<S>& fields, const std::vector<const S*>& items,
             const std::string& extra_info = "", const std::string& extra_help = "") {
    if (items.empty()) return;
    const Field<S>* identity = nullptr;
    std::vector<const Field<S>*> info;
    for (const Field<S>& f : fields) {
      if (f.kind != MetricKind::kLabel) continue;
      if (f.path == scope.identity) identity = &f;
      else info.push_back(&f);
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
      family(std::string(scope.prom) + "info", help, "gauge");
      for (const S* item : items) {
        std::vector<std::string> parts;
        if (identity) parts.push_back(labels(*item));
        if (!extra_info.empty()) parts.push_back(extra_info);
        for (const Field<S>* f : info) {
          std::string value = value_text(f->get(*item));
          // Prometheus reads an empty label as an absent one: leave it out.
          if (value.empty()) continue;
          parts.push_back(prometheus_name(scope, f->path, f->kind) + "=\"" + escape_label_value(value) + "\"");
        }
        std::string l;
        for (const std::string& part : parts) {
          if (!l.empty()) l += ',';
          l += part;
        }
        sample(std::string(scope.prom) + "info", l, "1");
      }
    }
    for (const Field<S>& f : fields) {
      if (f.kind == MetricKind::kLabel) continue;
      std::string name = prometheus_name(scope, f.path, f.kind);
      // A worker's counters.connections_total is its connections_total: one series, not two.
      if (!seen_.insert(name).second) continue;
      family(name, f.description + (f.unit.empty() ? "" : " (" + f.unit + ")"),
             f.kind == MetricKind::kCounter ? "counter" : "gauge");
      for (const S* item : items) sample(name, labels(*item), value_text(f.get(*item)));
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void family(const std::string& name, const std::string& help, const char* type) {
    out_ += "# HELP " + name + " " + escape_help(help) + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + value + "\n";
  }

  std::string out_;
  std::unordered_set<std::string> seen_;
};

template <typename T>
std::vector<const T*> pointers(const std::vector<T>& items) {
  std::vector<const T*> out;
  for (const T& item : items) out.push_back(&item);
  return out;
}

}  // namespace

std::string prometheus_name(const Scope& scope, std::string_view path, MetricKind kind) {
  if (kind == MetricKind::kLabel) {
    if (path == scope.identity) return std::string(scope.label);
    if (scope.json.empty() && path == "version") return "schema_version";  // "version" is the program's
    return underscored(path);
  }
  std::string name = std::string(scope.prom) + base_name(path);
  if (kind == MetricKind::kCounter && !ends_with(name, "_total")) name += "_total";
  return name;
}

std::string prometheus_reference(const Scope& scope, std::string_view path, MetricKind kind) {
  if (kind != MetricKind::kLabel) return prometheus_name(scope, path, kind);
  if (path == scope.identity) return "label " + std::string(scope.label) + "=\"...\" of " + std::string(scope.prom) + "*";
  return std::string(scope.prom) + "info{" + prometheus_name(scope, path, kind) + "}";
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

std::string render_prometheus(const Snapshot& s) {
  Exposition e;
  e.scope(kTopScope, top_fields(), {&s}, "version=\"" + escape_label_value(SPLICEPROXY_VERSION) + "\"",
          " version: the program's version (--version);");
  e.scope(kTotalsScope, totals_fields(), {&s.totals});
  e.scope(kProcessScope, process_fields(), {&s.process});
  e.scope(kWorkerScope, worker_fields(), pointers(s.workers));
  e.scope(kThreadScope, thread_fields(), pointers(s.threads));
  e.scope(kListenerScope, listener_fields(), pointers(s.listeners));
  return e.take();
}

}  // namespace sp::metrics
