// Accepting while short of descriptors (or memory), told as episodes: one warning with the
// counts when an episode ends (a second without a failed accept), and one a minute while a long
// one lasts, instead of a line per failed accept. Out of descriptors the proxy's listeners and
// the stats socket each logged every 100 ms pause: ~20 lines a second, and none said how many
// clients it cost. The exact numbers are in the stats (`refused`, `accept_pauses`) meanwhile.
//
// Thread context: its loop's thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/event_loop.h"

namespace sp {

class ShortageReport {
 public:
  // name: where, for the log ("accept on 127.0.0.1:9998"); reserved_verb: what becomes of a
  // connection taken on the reserved descriptor ("closed at once", "answered").
  ShortageReport(EventLoop& loop, std::string name, std::string reserved_verb);
  ~ShortageReport();
  ShortageReport(const ShortageReport&) = delete;
  ShortageReport& operator=(const ShortageReport&) = delete;

  // A connection was taken on the reserved descriptor because accept failed with err.
  void reserved(int err);
  // Accepting paused: err and no descriptor in reserve.
  void paused(int err);

 private:
  void note(int err);
  void check();
  void write(const char* state);

  EventLoop& loop_;
  std::string name_;
  std::string verb_;
  int err_ = 0;            // the episode's first error; 0: no episode
  int64_t began_ns_ = 0;
  int64_t last_ns_ = 0;    // the episode's latest failure
  int64_t logged_ns_ = 0;  // the episode's latest line (or its start)
  uint64_t reserved_ = 0;  // connections taken on the reserved descriptor in this episode
  uint64_t pauses_ = 0;
  EventLoop::TimerId timer_ = 0;
};

}  // namespace sp
