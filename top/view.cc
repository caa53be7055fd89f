#include "top/view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace sp::top {
namespace {

using nlohmann::json;

double num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}
uint64_t count(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  double d = it->get<double>();  // a signed or fractional number; a negative one (not ours) reads as 0
  return d > 0 ? static_cast<uint64_t>(d) : 0;
}
std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
const json& obj(const json& j, const char* key) {
  static const json empty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty;
}

template <typename... Args>
std::string format(const char* fmt, Args... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

// The CPU bar: '=' user, '#' system, scaled so `full` percent fills it.
std::string bar(double user_pct, double sys_pct, double full, int cells) {
  if (cells <= 0) return "";
  auto to_cells = [&](double pct) { return static_cast<int>(std::lround(std::clamp(pct / full, 0.0, 1.0) * cells)); };
  int user = to_cells(user_pct);
  int sys = std::min(to_cells(user_pct + sys_pct) - user, cells - user);
  sys = std::max(sys, 0);
  // Built with append: "literal" + std::string&& trips GCC 12's -Wrestrict (a false positive).
  std::string out(1, '[');
  out.append(static_cast<size_t>(user), '=').append(static_cast<size_t>(sys), '#');
  out.append(static_cast<size_t>(cells - user - sys), ' ').push_back(']');
  return out;
}

// Per second between two cumulative counts, "-" without an earlier snapshot.
std::string per_second(uint64_t now, const json* before, uint64_t then, double seconds) {
  if (!before || seconds <= 0 || now < then) return "-";
  return format("%.0f", static_cast<double>(now - then) / seconds);
}

constexpr int kFixedColumns = 89;  // everything of a worker row but the bar's cells
constexpr int kMinBar = 10, kMaxBar = 50;

std::string row(const std::string& name, uint64_t active, uint64_t total, double rate, const json& cpu,
                const std::string& vol, const std::string& invol, const std::string& errors, double full, int bar_cells) {
  std::string r = format("%-8s %7llu %9llu %12s %7.1f %7.1f %9s %9s %8s", name.c_str(),
                         static_cast<unsigned long long>(active), static_cast<unsigned long long>(total),
                         rate_text(rate).c_str(), num(cpu, "user_pct"), num(cpu, "sys_pct"), vol.c_str(), invol.c_str(),
                         errors.c_str());
  if (bar_cells > 0) r.append("  ").append(bar(num(cpu, "user_pct"), num(cpu, "sys_pct"), full, bar_cells));
  return r;
}

std::vector<Line> fit(std::vector<Line> out, const Frame& f) {
  if (static_cast<int>(out.size()) > f.height) out.resize(static_cast<size_t>(std::max(f.height, 0)));
  for (Line& l : out)
    if (static_cast<int>(l.text.size()) > f.width) l.text.resize(static_cast<size_t>(std::max(f.width, 0)));
  return out;
}

}  // namespace

uint64_t worker_errors(const json& worker) {
  const json& c = obj(worker, "counters");
  return count(c, "connect_failed") + count(c, "connect_timeout") + count(c, "resets") + count(c, "session_errors");
}

std::string rate_text(double b) {
  static const char* const kUnits[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  return u == 0 ? format("%.0f %s", b, kUnits[u]) : format("%.1f %s", b, kUnits[u]);
}

std::string duration_text(double s) {
  if (s < 60) return format("%.1fs", s);
  auto total = static_cast<long long>(s);
  if (total < 3600) return format("%lldm%02llds", total / 60, total % 60);
  return format("%lldh%02lldm%02llds", total / 3600, total / 60 % 60, total % 60);
}

std::vector<Line> render_frame(const Frame& f) {
  std::vector<Line> out;
  auto add = [&](std::string text, Line::Style style = Line::Style::kPlain) { out.push_back({std::move(text), style}); };
  const json* s = f.connected ? f.latest : nullptr;

  std::string title = "proxy-top  " + f.where;
  if (s) {
    title += "  " + str(*s, "program") + " pid " + std::to_string(count(*s, "pid")) + "  mode " + str(*s, "mode");
    std::string running = str(*s, "mode_effective");
    title += running.empty() || running == str(*s, "mode") ? " (running " + str(*s, "mode") + ")" : " (RUNNING " + running + ")";
    title += "  up " + duration_text(num(*s, "uptime_s"));
  }
  add(title, Line::Style::kTitle);
  if (!f.connected) {
    add("NOT CONNECTED: " + f.status, Line::Style::kAlert);
  } else if (!f.status.empty() && f.status != "connected") {
    add(f.status, Line::Style::kAlert);  // connected, but what came was not a snapshot
  } else if (!s) {
    add("connected, waiting for the first snapshot   q: quit");
  } else {
    add(format("connected, updated %.1fs ago, every %.2gs   q: quit", f.age_s, num(*s, "interval_s")));
  }
  if (!s) return fit(std::move(out), f);

  double dt = f.previous ? num(*s, "uptime_s") - num(*f.previous, "uptime_s") : 0;
  std::map<uint64_t, const json*> before;
  if (f.previous && (*f.previous).contains("workers"))
    for (const json& w : (*f.previous)["workers"]) before[count(w, "id")] = &w;
  int bar_cells = std::clamp(f.width - kFixedColumns, 0, kMaxBar);
  if (bar_cells < kMinBar) bar_cells = 0;

  add("");
  add(format("%-8s %7s %9s %12s %7s %7s %9s %9s %8s", "WORKER", "ACTIVE", "CONNS", "BYTES/S", "USER%", "SYS%", "VCSW/S",
             "ICSW/S", "ERRORS") +
          (bar_cells > 0 ? "  CPU (= user, # sys, of one core)" : ""),
      Line::Style::kHeading);
  const json& workers = s->contains("workers") && (*s)["workers"].is_array() ? (*s)["workers"] : json::array();
  // Keep room for the totals, the listeners' heading and a few of them, and the process line.
  size_t listeners = s->contains("listeners") && (*s)["listeners"].is_array() ? (*s)["listeners"].size() : 0;
  int room = f.height - static_cast<int>(out.size()) - 5 - static_cast<int>(std::min<size_t>(listeners, 4)) - 2;
  size_t shown = 0;
  uint64_t errors_total = 0;
  for (const json& w : workers) errors_total += worker_errors(w);
  for (const json& w : workers) {
    if (static_cast<int>(shown) >= room - (shown + 1 < workers.size() ? 1 : 0)) break;
    const json& cpu = obj(w, "cpu");
    const json& ctx = obj(w, "ctx_switches");
    auto it = before.find(count(w, "id"));
    const json* b = it == before.end() ? nullptr : it->second;
    const json& bctx = b ? obj(*b, "ctx_switches") : ctx;
    add(row(std::to_string(count(w, "id")), count(w, "connections_active"), count(w, "connections_total"),
            num(w, "bytes_per_s"), cpu, per_second(count(ctx, "voluntary"), b, count(bctx, "voluntary"), dt),
            per_second(count(ctx, "involuntary"), b, count(bctx, "involuntary"), dt), std::to_string(worker_errors(w)), 100,
            bar_cells));
    ++shown;
  }
  if (shown < workers.size()) add(format("... and %zu more workers (a taller terminal shows them)", workers.size() - shown));
  const json& t = obj(*s, "totals");
  const json& tctx = obj(t, "ctx_switches");
  const json& pctx = f.previous ? obj(obj(*f.previous, "totals"), "ctx_switches") : tctx;
  add(row("total", count(t, "connections_active"), count(t, "connections_total"), num(t, "bytes_per_s"), obj(t, "cpu"),
          per_second(count(tctx, "voluntary"), f.previous, count(pctx, "voluntary"), dt),
          per_second(count(tctx, "involuntary"), f.previous, count(pctx, "involuntary"), dt), std::to_string(errors_total),
          100.0 * static_cast<double>(std::max<size_t>(workers.size(), 1)), bar_cells),
      Line::Style::kHeading);

  add("");
  add(format("%-40s %10s %9s %9s %9s", "LISTENER", "ACCEPTED", "ACCEPT/S", "REFUSED", "PAUSES"), Line::Style::kHeading);
  if (listeners > 0)
    for (const json& l : (*s)["listeners"])
      add(format("%-40s %10llu %9.1f %9llu %9llu", str(l, "address").c_str(), static_cast<unsigned long long>(count(l, "accepted")),
                 num(l, "accepted_per_s"), static_cast<unsigned long long>(count(l, "refused")),
                 static_cast<unsigned long long>(count(l, "accept_pauses"))));
  const json& p = obj(*s, "process");
  add("");
  add(format("process: rss %.1f MB, %llu fds, %llu threads, cpu user %.1f%% sys %.1f%%", num(p, "rss_bytes") / 1e6,
             static_cast<unsigned long long>(count(p, "open_fds")), static_cast<unsigned long long>(count(p, "threads")),
             num(obj(p, "cpu"), "user_pct"), num(obj(p, "cpu"), "sys_pct")));

  return fit(std::move(out), f);
}

}  // namespace sp::top
