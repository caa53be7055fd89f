#include "top/keys.h"

namespace sp::top {

const char* sort_name(SortBy sort) {
  static const char* const kNames[kSortColumns] = {"WORKER", "ACTIVE", "CONNS",  "BYTES/S", "USER%",
                                                   "SYS%",   "VCSW/S", "ICSW/S", "ERRORS"};
  int i = static_cast<int>(sort);
  return i >= 0 && i < kSortColumns ? kNames[i] : "?";
}

Controls on_key(Controls c, char key) {
  switch (key) {
    case 'q':
    case 'Q': c.quit = true; break;
    case 'h':
    case '?': c.help = !c.help; break;
    case '\x1b': c.help = false; break;
    case 's': c.sort = static_cast<SortBy>((static_cast<int>(c.sort) + 1) % kSortColumns); break;
    case 'p': c.paused = !c.paused; break;
    default: break;
  }
  return c;
}

Controls on_keys(Controls c, std::string_view keys) {
  for (char k : keys) {
    if (c.quit) break;
    c = on_key(c, k);
  }
  return c;
}

}  // namespace sp::top
