#include "top/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sp::top {
namespace {

constexpr const char* kEnter = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";  // alternate screen, cursor hidden
constexpr const char* kLeave = "\x1b[0m\x1b[?25h\x1b[?1049l";          // attributes off, cursor, main screen

struct termios g_saved;  // for the crash handler, which cannot reach the object
volatile sig_atomic_t g_raw = 0;

void write_all(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// SIGSEGV, SIGABRT...: give the user their terminal back, then die of the same signal.
void on_fatal(int sig) {
  if (g_raw) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
    ssize_t n = ::write(STDOUT_FILENO, kLeave, std::strlen(kLeave));
    (void)n;
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

const char* style_on(Line::Style style) {
  switch (style) {
    case Line::Style::kTitle: return "\x1b[1;7m";  // bold, reversed
    case Line::Style::kHeading: return "\x1b[1m";
    case Line::Style::kAlert: return "\x1b[1;31m";  // bold red
    case Line::Style::kPlain: break;
  }
  return "";
}

}  // namespace

Terminal::Terminal() {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) return;
  if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
  struct termios raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is SIGINT, handled as a quit
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) return;
  g_saved = saved_;
  g_raw = 1;
  raw_ = true;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, on_fatal);
  ::fcntl(STDIN_FILENO, F_SETFL, ::fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
  write_all(kEnter, std::strlen(kEnter));
}

Terminal::~Terminal() {
  if (!raw_) return;
  write_all(kLeave, std::strlen(kLeave));
  ::fcntl(STDIN_FILENO, F_SETFL, ::fcntl(STDIN_FILENO, F_GETFL) & ~O_NONBLOCK);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  g_raw = 0;
}

void Terminal::size(int* width, int* height) const {
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    *width = ws.ws_col;
    *height = ws.ws_row;
    return;
  }
  *width = 120;
  *height = 40;
}

void Terminal::draw(const std::vector<Line>& lines) {
  std::string out = "\x1b[H";
  for (size_t i = 0; i < lines.size(); ++i) {
    const char* on = style_on(lines[i].style);
    out += on;
    out += lines[i].text;
    if (*on) out += "\x1b[0m";
    out += "\x1b[K";
    if (i + 1 < lines.size()) out += "\r\n";
  }
  out += "\x1b[J";
  write_all(out.data(), out.size());
}

std::string Terminal::read_keys() {
  std::string keys;
  char buf[64];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    keys.append(buf, static_cast<size_t>(n));
  }
  return keys;
}

std::string plain_text(const std::vector<Line>& lines) {
  std::string out;
  for (const Line& l : lines) out += l.text + "\n";
  return out;
}

}  // namespace sp::top
