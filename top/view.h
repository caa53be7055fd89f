// proxy-top's screen as text: the header (where, program, mode asked and running, uptime), the
// link's state, one row per worker (connections, bytes/s, CPU user/sys as numbers and a bar,
// context switches per second, errors), the totals, the listeners and the process; or, with h,
// the keys and what each column means. Fitted to the terminal: no line wider than `width`, no
// more lines than `height`; every column fits 80 x 24.
//
// Pure: no terminal, no sockets; the snapshots are the stats socket's JSON.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "top/keys.h"

namespace sp::top {

struct Frame {
  std::string where;                        // the stats socket, as given
  bool connected = false;
  std::string status;                       // why not connected; when connected, "connected" or what went wrong
  const nlohmann::json* latest = nullptr;   // the last snapshot (nullptr: none yet)
  const nlohmann::json* previous = nullptr; // the one before it, for per-second deltas
  double age_s = 0;                         // since `latest` arrived
  int width = 80;
  int height = 24;
  Controls controls;                        // sort order, help, paused
};

struct Line {
  enum class Style { kPlain, kTitle, kHeading, kAlert };
  std::string text;
  Style style = Style::kPlain;
};

std::vector<Line> render_frame(const Frame& frame);

// The errors column: sessions that went wrong on a worker (failed or timed-out connects to the
// remote, resets, set-up failures).
uint64_t worker_errors(const nlohmann::json& worker);

// "12345", "123k", "1.5M": at most 5 characters, so a count fits a 6-column cell however large.
std::string count_text(double n);
// "493.8 MB/s", "1.2 GB/s", "12 B/s" (decimal units, as `ss` and iperf3 print them).
std::string rate_text(double bytes_per_s);
// "1h02m03s", "4m05s", "7.2s".
std::string duration_text(double seconds);

}  // namespace sp::top
