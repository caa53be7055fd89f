// The terminal proxy-top draws on: raw keys (no echo, no line buffering; Ctrl-C still signals),
// the alternate screen with the cursor hidden, and the window's size. Everything is restored by
// the destructor, which runs on every way out of main (q, SIGINT/SIGTERM/SIGHUP through the
// signalfd, an exception); a crash's signal is caught too, to restore the screen before dying.
//
// Thread context: main thread only.
#pragma once

#include <termios.h>

#include <string>
#include <vector>

#include "top/view.h"

namespace sp::top {

class Terminal {
 public:
  // Takes over stdin/stdout if both are terminals; otherwise interactive() is false and nothing changes.
  Terminal();
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  bool interactive() const { return raw_; }
  // Columns and rows (TIOCGWINSZ); 120 x 40 when stdout is not a terminal.
  void size(int* width, int* height) const;
  // Redraws in place: home, each line cleared to its end, the rest of the screen cleared. One write.
  void draw(const std::vector<Line>& lines);
  // Keys waiting on stdin (non-blocking); "" when none.
  std::string read_keys();

 private:
  bool raw_ = false;
  struct termios saved_ {};
};

// The frame as plain text, one line each (for --once and pipes).
std::string plain_text(const std::vector<Line>& lines);

}  // namespace sp::top
