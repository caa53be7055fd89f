// proxy-top: a live view of the stats socket in the terminal, as hatop is for HAProxy.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/event_loop.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/signals.h"
#include "metrics/stats_server.h"
#include "top/feed.h"
#include "top/terminal.h"
#include "top/view.h"

namespace sp::top {
namespace {

struct Options {
  metrics::StatsEndpoint where = metrics::parse_stats_endpoint(metrics::kDefaultStatsAddress);
  int64_t interval_ms = 1000;
  int64_t retry_max_ns = 5'000'000'000;
  bool once = false;
};

FlagParser flags(Options& o) {
  FlagParser p("proxy-top",
               "A live view of the stats socket of proxy (or tcp_ping_server --stats), as hatop is for HAProxy: one "
               "row per worker\n(connections, bytes/s, CPU user/sys as numbers and a bar, context switches per second, "
               "errors), the totals,\nthe listeners and the mode in effect, redrawn in place as `watch` snapshots "
               "arrive. Keys: h help, s sort by the next column, p pause, q quit.\nWhen the socket cannot be reached "
               "or goes away, it says so and tries again.");
  p.operand({0, "WHERE", "", "the stats socket: HOST:PORT, a bare PORT (on 127.0.0.1), or unix:PATH",
             std::string(metrics::kDefaultStatsAddress) + ", the proxy's default --stats", [&o](const std::string& v) {
               o.where = metrics::parse_stats_endpoint(v);
               if (o.where.kind == metrics::StatsEndpoint::Kind::kOff) throw std::invalid_argument("'off' is no socket to watch");
             }});
  p.add({'i', "interval", "SECONDS", "how often the stats socket sends a snapshot (its `watch` command), 0.05 to 3600",
         "1", [&o](const std::string& v) { o.interval_ms = parse_duration_ns(v, 50'000'000, 3600'000'000'000) / 1'000'000; }});
  p.add({0, "retry-max", "SECONDS",
         "the longest wait between attempts to reach the socket (the wait starts at 0.25 s and doubles)", "5",
         [&o](const std::string& v) { o.retry_max_ns = parse_duration_ns(v, 250'000'000, 3600'000'000'000); }});
  p.add({0, "once", "",
         "print one frame as plain text on stdout and exit: 0 after a snapshot, 1 if the socket cannot be reached "
         "(no retries)",
         "", [&o](const std::string&) { o.once = true; }});
  return p;
}

class App {
 public:
  App(EventLoop& loop, const Options& o, Terminal& terminal)
      : loop_(loop),
        once_(o.once),
        terminal_(terminal),
        feed_(loop, o.where, o.interval_ms, o.retry_max_ns,
              {[this](const std::string& line) { on_snapshot(line); },
               [this](bool connected, const std::string& status) { on_status(connected, status); }}) {}

  void start() {
    feed_.start();
    if (!once_) tick();
  }
  int exit_code() const { return exit_code_; }
  void on_keys(const std::string& keys) {
    bool was_paused = controls_.paused;
    controls_ = top::on_keys(controls_, keys);
    if (controls_.quit) {
      loop_.stop();
      return;
    }
    if (controls_.paused && !was_paused) frozen_ = live_;
    redraw();
  }
  void redraw() {
    if (once_) return;
    Frame f = frame();
    terminal_.size(&f.width, &f.height);
    terminal_.draw(render_frame(f));
  }

 private:
  // What the feed last said. Paused, the screen shows a copy taken at the key press while this
  // one goes on following the socket, so resuming shows the present at once.
  struct Seen {
    bool connected = false;
    std::string status = "connecting";
    nlohmann::json latest, previous;
    bool have_latest = false, have_previous = false;
    int64_t latest_at = 0;
  };

  Frame frame() const {
    const Seen& s = controls_.paused ? frozen_ : live_;
    Frame f;
    f.where = feed_.where();
    f.connected = s.connected;
    f.status = s.status;
    f.latest = s.have_latest ? &s.latest : nullptr;
    f.previous = s.have_previous ? &s.previous : nullptr;
    f.age_s = static_cast<double>(now_ns() - s.latest_at) / 1e9;
    f.controls = controls_;
    return f;
  }

  void on_snapshot(const std::string& line) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      live_.status = "a line that is not JSON: is " + feed_.where() + " a stats socket?";
      redraw();
      return;
    }
    if (j.contains("error")) {
      live_.status = "the stats socket says: " + j["error"].dump();
      redraw();
      return;
    }
    if (live_.have_latest) {
      live_.previous = std::move(live_.latest);
      live_.have_previous = true;
    }
    live_.latest = std::move(j);
    live_.have_latest = true;
    live_.status = "connected";  // a good snapshot: an earlier odd line is history
    live_.latest_at = now_ns();
    if (once_) {
      Frame f = frame();
      terminal_.size(&f.width, &f.height);
      std::fputs(plain_text(render_frame(f)).c_str(), stdout);
      exit_code_ = 0;
      loop_.stop();
      return;
    }
    redraw();
  }

  void on_status(bool connected, const std::string& status) {
    live_.connected = connected;
    live_.status = status;
    if (!connected) {  // numbers from before the gap would make a wrong rate after it
      live_.have_latest = live_.have_previous = false;
      if (once_) {
        std::fprintf(stderr, "proxy-top: %s\n", status.substr(0, status.find("; retrying")).c_str());
        exit_code_ = 1;
        loop_.stop();
        return;
      }
    }
    redraw();
  }

  void tick() {  // the "updated N s ago" line, and a frame even when nothing arrives
    redraw();
    loop_.run_after(1'000'000'000, [this] { tick(); });
  }

  EventLoop& loop_;
  bool once_;
  Terminal& terminal_;
  StatsFeed feed_;
  Seen live_, frozen_;
  Controls controls_;
  int exit_code_ = 0;
};

// Hands what was typed to the app (keys.h says what each key does).
class Keys final : public Handler {
 public:
  Keys(Terminal& terminal, App& app) : terminal_(terminal), app_(app) {}
  void on_events(uint32_t) override { app_.on_keys(terminal_.read_keys()); }

 private:
  Terminal& terminal_;
  App& app_;
};

int run(const Options& o) {
  block_signals({SIGINT, SIGTERM, SIGHUP, SIGWINCH});
  EventLoop loop;
  Terminal terminal;
  if (!o.once && !terminal.interactive()) {
    std::fprintf(stderr, "proxy-top: stdin and stdout must be a terminal (or use --once)\n");
    return 2;
  }
  App app(loop, o, terminal);
  SignalWatcher signals(loop, {SIGINT, SIGTERM, SIGHUP, SIGWINCH}, [&](int sig) {
    if (sig == SIGWINCH) app.redraw();
    else loop.stop();
  });
  std::unique_ptr<Keys> keys;
  if (!o.once) {
    keys = std::make_unique<Keys>(terminal, app);
    loop.add(STDIN_FILENO, EPOLLIN | EPOLLET, keys.get());
  }
  app.start();
  loop.run();
  if (keys) loop.remove(STDIN_FILENO);
  return app.exit_code();
}

}  // namespace
}  // namespace sp::top

int main(int argc, char** argv) {
  sp::log::set_program("proxy-top");
  sp::top::Options options;
  if (auto code = sp::top::flags(options).parse(argc, argv)) return *code;
  try {
    return sp::top::run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "proxy-top: %s\n", e.what());
    return 1;
  }
}
