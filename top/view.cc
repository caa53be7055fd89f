#include "top/view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

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

// Per second between two cumulative counts; none without an earlier snapshot.
std::optional<double> per_second(uint64_t now, const json* before, uint64_t then, double seconds) {
  if (!before || seconds <= 0 || now < then) return std::nullopt;
  return static_cast<double>(now - then) / seconds;
}

// Six columns a cell: the numbers are compact (count_text), so 9 columns and a 10-cell bar fit 80.
constexpr const char* kRowFormat = "%-6s %6s %6s %10s %6.1f %6.1f %6s %6s %6s";
constexpr const char* kHeadFormat = "%-6s %6s %6s %10s %6s %6s %6s %6s %6s";
constexpr int kFixedColumns = 70;  // a worker row's numbers (66) and the bar's "  [" and "]"
constexpr int kMinBar = 10, kMaxBar = 50;

struct WorkerRow {
  std::string name;
  uint64_t active = 0, total = 0, errors = 0;
  double rate = 0;
  const json* cpu = nullptr;
  std::optional<double> vcsw, icsw;  // per second
};

std::string rate_cell(const std::optional<double>& v) { return v ? count_text(*v) : "-"; }

std::string row(const WorkerRow& w, double full, int bar_cells) {
  std::string r = format(kRowFormat, w.name.c_str(), count_text(static_cast<double>(w.active)).c_str(),
                         count_text(static_cast<double>(w.total)).c_str(), rate_text(w.rate).c_str(),
                         num(*w.cpu, "user_pct"), num(*w.cpu, "sys_pct"), rate_cell(w.vcsw).c_str(),
                         rate_cell(w.icsw).c_str(), count_text(static_cast<double>(w.errors)).c_str());
  if (bar_cells > 0) r.append("  ").append(bar(num(*w.cpu, "user_pct"), num(*w.cpu, "sys_pct"), full, bar_cells));
  return r;
}

// The bar's heading in the room it has: the full legend, or its short form at 80 columns.
std::string bar_heading(int bar_cells) {
  if (bar_cells <= 0) return "";
  std::string legend = "CPU (= user, # sys, of one core)";
  if (static_cast<int>(legend.size()) > bar_cells + 2) legend = "CPU =us #sy";
  return "  " + legend;
}

double sort_value(const WorkerRow& w, SortBy by) {
  switch (by) {
    case SortBy::kWorker: return 0;
    case SortBy::kActive: return static_cast<double>(w.active);
    case SortBy::kConns: return static_cast<double>(w.total);
    case SortBy::kBytes: return w.rate;
    case SortBy::kUser: return num(*w.cpu, "user_pct");
    case SortBy::kSys: return num(*w.cpu, "sys_pct");
    case SortBy::kVcsw: return w.vcsw.value_or(-1);
    case SortBy::kIcsw: return w.icsw.value_or(-1);
    case SortBy::kErrors: return static_cast<double>(w.errors);
  }
  return 0;
}

// What the keys do and what each column means: the numbers are terse to fit 80 columns.
const char* const kHelp[] = {
    "keys (h, ? or Esc closes this help)",
    "  h ?    this help",
    "  s      sort the workers by the next column, largest first (WORKER: by id)",
    "  p      pause: the frame stays as it is (the socket is still read); p resumes",
    "  q      quit (so do Ctrl-C, SIGTERM and SIGHUP)",
    "",
    "columns (k = thousand, M = million; rates over the proxy's last interval)",
    "  WORKER   the worker's id; total: all of them",
    "  ACTIVE   connections open now",
    "  CONNS    connections since start",
    "  BYTES/S  bytes per second through the worker",
    "  USER%    CPU in user space, % of one core",
    "  SYS%     CPU in the kernel, % of one core",
    "  VCSW/S   voluntary context switches per second (it waited)",
    "  ICSW/S   involuntary context switches per second (it was preempted)",
    "  ERRORS   failed or timed-out connects to the remote, resets, set-up failures",
    "  CPU      the bar: = user, # sys, of one core (totals: of all workers)",
};

std::vector<Line> fit(std::vector<Line> out, const Frame& f) {
  if (static_cast<int>(out.size()) > f.height) out.resize(static_cast<size_t>(std::max(f.height, 0)));
  for (Line& l : out)
    if (static_cast<int>(l.text.size()) > f.width) l.text.resize(static_cast<size_t>(std::max(f.width, 0)));
  return out;
}

// --mode sockmap: who moved the bytes since the previous snapshot (since the proxy started without
// one). In bulk the worker moves most of them, behind the relay's holds (docs/sockmap.md), so the
// share the kernel relayed is what says whether the mode pays for this traffic. Sessions sent to
// splice (the TCP-memory guard, or the kernel refused them) count in the same byte counters and
// may run for long: once there were any, the rest is "kernel+splice".
std::optional<std::string> sockmap_text(const json& s, const json* previous) {
  if (str(s, "mode_effective") != "sockmap") return std::nullopt;
  struct Sums {
    uint64_t bytes = 0, moved = 0, holds = 0, to_splice = 0;
  };
  auto sums = [](const json* snap) {
    Sums sum;
    if (!snap || !snap->contains("workers") || !(*snap)["workers"].is_array()) return sum;
    for (const json& w : (*snap)["workers"]) {
      const json& c = obj(w, "counters");
      sum.bytes += count(c, "bytes_in") + count(c, "bytes_out");
      sum.moved += count(c, "sockmap_moved_bytes");
      sum.holds += count(c, "sockmap_holds");
      sum.to_splice += count(c, "sockmap_declined") + count(c, "sockmap_fallbacks");
    }
    return sum;
  };
  Sums now = sums(&s), then = sums(previous);
  bool restarted = now.bytes < then.bytes || now.moved < then.moved || now.holds < then.holds || now.to_splice < then.to_splice;
  if (restarted) then = Sums{};  // another process answers now: from its start
  std::string span = previous && !restarted ? format("in %.1fs", num(s, "uptime_s") - num(*previous, "uptime_s"))
                                             : std::string("since start");
  uint64_t bytes = now.bytes - then.bytes, moved = std::min(now.moved - then.moved, bytes);
  if (bytes == 0) return "sockmap: no bytes " + span;
  // Short enough for 80 columns: "sockmap: kernel 60.0%, worker 40.0% of 2.0GB in 2.0s (10 holds)".
  double moved_pct = 100.0 * static_cast<double>(moved) / static_cast<double>(bytes);
  std::string holds = count_text(static_cast<double>(now.holds - then.holds));
  if (now.to_splice == 0)
    return format("sockmap: kernel %.1f%%, worker %.1f%% of %sB %s (%s holds)", 100.0 - moved_pct, moved_pct,
                  count_text(static_cast<double>(bytes)).c_str(), span.c_str(), holds.c_str());
  return format("sockmap: worker %.1f%% of %sB %s (%s holds), kernel+splice the rest (%s spliced)",
                moved_pct, count_text(static_cast<double>(bytes)).c_str(), span.c_str(), holds.c_str(),
                count_text(static_cast<double>(now.to_splice)).c_str());
}

}  // namespace

uint64_t worker_errors(const json& worker) {
  const json& c = obj(worker, "counters");
  return count(c, "connect_failed") + count(c, "connect_timeout") + count(c, "resets") + count(c, "session_errors");
}

std::string count_text(double n) {
  if (!(n >= 0)) n = 0;
  if (n < 99999.5) return format("%.0f", n);
  static const char kUnits[] = {'k', 'M', 'G', 'T', 'P', 'E'};
  double v = n / 1000;
  size_t u = 0;
  while (v >= 999.5 && u + 1 < sizeof kUnits) {
    v /= 1000;
    ++u;
  }
  return v < 9.95 ? format("%.1f%c", v, kUnits[u]) : format("%.0f%c", v, kUnits[u]);
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
  const Controls& c = f.controls;

  std::string title = "proxy-top  " + f.where;
  if (s) {
    title += "  " + str(*s, "program") + " pid " + std::to_string(count(*s, "pid")) + "  mode " + str(*s, "mode");
    std::string running = str(*s, "mode_effective");
    title += running.empty() || running == str(*s, "mode") ? " (running " + str(*s, "mode") + ")" : " (RUNNING " + running + ")";
    title += "  up " + duration_text(num(*s, "uptime_s"));
  }
  add(title, Line::Style::kTitle);
  std::string keys = std::string("   sort ") + sort_name(c.sort) + "   h: help";
  if (c.paused) {
    add((s ? format("PAUSED (p resumes): the snapshot from %.1fs ago", f.age_s) : std::string("PAUSED (p resumes)")) +
            keys,
        Line::Style::kAlert);
  } else if (!f.connected) {
    add("NOT CONNECTED: " + f.status, Line::Style::kAlert);
  } else if (!f.status.empty() && f.status != "connected") {
    add(f.status, Line::Style::kAlert);  // connected, but what came was not a snapshot
  } else if (!s) {
    add("connected, waiting for the first snapshot" + keys);
  } else {
    add(format("connected, updated %.1fs ago, every %.2gs", f.age_s, num(*s, "interval_s")) + keys);
  }
  if (c.help) {
    add("");
    for (const char* line : kHelp) add(line);
    return fit(std::move(out), f);
  }
  if (!s) return fit(std::move(out), f);

  double dt = f.previous ? num(*s, "uptime_s") - num(*f.previous, "uptime_s") : 0;
  std::map<uint64_t, const json*> before;
  if (f.previous && (*f.previous).contains("workers"))
    for (const json& w : (*f.previous)["workers"]) before[count(w, "id")] = &w;
  int bar_cells = std::clamp(f.width - kFixedColumns, 0, kMaxBar);
  if (bar_cells < kMinBar) bar_cells = 0;

  add("");
  add(format(kHeadFormat, "WORKER", "ACTIVE", "CONNS", "BYTES/S", "USER%", "SYS%", "VCSW/S", "ICSW/S", "ERRORS") +
          bar_heading(bar_cells),
      Line::Style::kHeading);
  const json& workers = s->contains("workers") && (*s)["workers"].is_array() ? (*s)["workers"] : json::array();
  std::vector<WorkerRow> rows;
  std::vector<uint64_t> ids;
  uint64_t errors_total = 0;
  for (const json& w : workers) {
    const json& ctx = obj(w, "ctx_switches");
    auto it = before.find(count(w, "id"));
    const json* b = it == before.end() ? nullptr : it->second;
    const json& bctx = b ? obj(*b, "ctx_switches") : ctx;
    rows.push_back({std::to_string(count(w, "id")), count(w, "connections_active"), count(w, "connections_total"),
                    worker_errors(w), num(w, "bytes_per_s"), &obj(w, "cpu"),
                    per_second(count(ctx, "voluntary"), b, count(bctx, "voluntary"), dt),
                    per_second(count(ctx, "involuntary"), b, count(bctx, "involuntary"), dt)});
    ids.push_back(count(w, "id"));
    errors_total += rows.back().errors;
  }
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    double va = sort_value(rows[a], c.sort), vb = sort_value(rows[b], c.sort);
    return va != vb ? va > vb : ids[a] < ids[b];
  });
  // Keep room for the totals, the listeners' heading and a few of them, and the process line.
  size_t listeners = s->contains("listeners") && (*s)["listeners"].is_array() ? (*s)["listeners"].size() : 0;
  // The remotes (the proxy's backends) get their section when there is a pool: one remote says
  // nothing a worker's errors do not.
  size_t remotes = s->contains("remotes") && (*s)["remotes"].is_array() ? (*s)["remotes"].size() : 0;
  if (remotes < 2) remotes = 0;
  std::optional<std::string> sockmap_line = sockmap_text(*s, f.previous);
  int room = f.height - static_cast<int>(out.size()) - 5 - static_cast<int>(std::min<size_t>(listeners, 4)) - 2 -
             (sockmap_line ? 1 : 0) -
             (remotes ? 2 + static_cast<int>(std::min<size_t>(remotes, 4)) : 0);
  size_t shown = 0;
  for (size_t i : order) {
    if (static_cast<int>(shown) >= room - (shown + 1 < rows.size() ? 1 : 0)) break;
    add(row(rows[i], 100, bar_cells));
    ++shown;
  }
  if (shown < rows.size()) add(format("... and %zu more workers (a taller terminal shows them)", rows.size() - shown));
  const json& t = obj(*s, "totals");
  const json& tctx = obj(t, "ctx_switches");
  const json& pctx = f.previous ? obj(obj(*f.previous, "totals"), "ctx_switches") : tctx;
  WorkerRow total{"total", count(t, "connections_active"), count(t, "connections_total"), errors_total,
                  num(t, "bytes_per_s"), &obj(t, "cpu"),
                  per_second(count(tctx, "voluntary"), f.previous, count(pctx, "voluntary"), dt),
                  per_second(count(tctx, "involuntary"), f.previous, count(pctx, "involuntary"), dt)};
  add(row(total, 100.0 * static_cast<double>(std::max<size_t>(workers.size(), 1)), bar_cells), Line::Style::kHeading);

  add("");
  add(format("%-32s %8s %8s %7s %6s", "LISTENER", "ACCEPTED", "ACCEPT/S", "REFUSED", "PAUSES"), Line::Style::kHeading);
  if (listeners > 0)
    for (const json& l : (*s)["listeners"])
      add(format("%-32s %8s %8.1f %7s %6s", str(l, "address").c_str(), count_text(static_cast<double>(count(l, "accepted"))).c_str(),
                 num(l, "accepted_per_s"), count_text(static_cast<double>(count(l, "refused"))).c_str(),
                 count_text(static_cast<double>(count(l, "accept_pauses"))).c_str()));
  if (remotes > 0) {
    add("");
    add(format("%-32s %4s %6s %6s %8s %7s", "REMOTE", "UP", "WEIGHT", "ACTIVE", "CONNECTS", "FAILED"), Line::Style::kHeading);
    for (const json& r : (*s)["remotes"]) {
      bool up = count(r, "up") != 0;
      add(format("%-32s %4s %6llu %6s %8s %7s", str(r, "address").c_str(), up ? "up" : "DOWN",
                 static_cast<unsigned long long>(count(r, "weight")),
                 count_text(static_cast<double>(count(r, "active"))).c_str(),
                 count_text(static_cast<double>(count(r, "connects"))).c_str(),
                 count_text(static_cast<double>(count(r, "connect_failures"))).c_str()),
          up ? Line::Style::kPlain : Line::Style::kAlert);
    }
  }
  const json& p = obj(*s, "process");
  add("");
  if (sockmap_line) add(*sockmap_line);
  add(format("process: rss %.1f MB, %llu fds, %llu threads, cpu user %.1f%% sys %.1f%%", num(p, "rss_bytes") / 1e6,
             static_cast<unsigned long long>(count(p, "open_fds")), static_cast<unsigned long long>(count(p, "threads")),
             num(obj(p, "cpu"), "user_pct"), num(obj(p, "cpu"), "sys_pct")));
  // The machine's, not the process's: TCP memory near the pressure mark slows every socket.
  // The kernel keeps regulating until memory falls below tcp_mem's first mark, not the second.
  double tcp = num(p, "host_tcp_memory_bytes"), pressure = num(p, "host_tcp_pressure_bytes");
  bool squeezed = count(p, "host_tcp_under_pressure") != 0 || (pressure > 0 && tcp >= pressure);
  if (pressure > 0)
    add(format("host: kernel TCP memory %.1f MB of %.1f MB (tcp_mem pressure mark)%s", tcp / 1e6, pressure / 1e6,
               squeezed ? ": UNDER PRESSURE" : ""),
        squeezed ? Line::Style::kAlert : Line::Style::kPlain);

  return fit(std::move(out), f);
}

}  // namespace sp::top
