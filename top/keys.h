// proxy-top's keys, as pure state transitions: what each key does can be tested without a
// terminal, and the screen (top/view.*) only reads the result.
#pragma once

#include <string_view>

namespace sp::top {

// The order of the worker rows: by worker id, or by a column, largest first (as top does), so
// the rows a short terminal keeps are the ones that matter.
enum class SortBy { kWorker, kActive, kConns, kBytes, kUser, kSys, kVcsw, kIcsw, kErrors };
constexpr int kSortColumns = 9;
// The column's header as the screen shows it ("BYTES/S").
const char* sort_name(SortBy sort);

struct Controls {
  bool help = false;    // the key and column help instead of the numbers
  bool paused = false;  // the frame stays as it was when p was pressed
  SortBy sort = SortBy::kWorker;
  bool quit = false;
};

// h or ? toggles the help (Esc closes it), s sorts by the next column, p pauses or resumes,
// q or Q quits; other keys do nothing. Upper-case H, S and P are ignored on purpose: F1 to F4
// arrive as ESC O P..S, and pressing F1 must not pause.
Controls on_key(Controls c, char key);
// A read returns whatever was typed since the last one: every key in order, none after q.
Controls on_keys(Controls c, std::string_view keys);

}  // namespace sp::top
