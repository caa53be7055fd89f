#include "common/shortage_report.h"

#include <algorithm>
#include <cstdio>

#include "common/clock.h"
#include "common/log.h"

namespace sp {
namespace {
constexpr int64_t kQuietNs = kNsPerSec;  // this long without a failure ends an episode
constexpr int64_t kLongEpisodeLineNs = 60 * kNsPerSec;  // a line this often while one lasts
}  // namespace

ShortageReport::ShortageReport(EventLoop& loop, std::string name, std::string reserved_verb)
    : loop_(loop), name_(std::move(name)), verb_(std::move(reserved_verb)) {}

ShortageReport::~ShortageReport() {
  if (timer_) loop_.cancel(timer_);
}

void ShortageReport::reserved(int err) {
  note(err);
  ++reserved_;
}

void ShortageReport::paused(int err) {
  note(err);
  ++pauses_;
}

void ShortageReport::note(int err) {
  last_ns_ = now_ns();
  if (err_) return;
  err_ = err;
  began_ns_ = logged_ns_ = last_ns_;
  timer_ = loop_.run_after(kQuietNs, [this] { check(); });
}

void ShortageReport::check() {
  timer_ = 0;
  int64_t now = now_ns();
  if (now - last_ns_ >= kQuietNs) {
    write("");
    err_ = 0;
    reserved_ = pauses_ = 0;
    return;
  }
  if (now - logged_ns_ >= kLongEpisodeLineNs) {
    write(" so far");
    logged_ns_ = now;
  }
  timer_ = loop_.run_after(std::min(last_ns_ + kQuietNs, logged_ns_ + kLongEpisodeLineNs) - now, [this] { check(); });
}

void ShortageReport::write(const char* state) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(last_ns_ - began_ns_) / 1e9);
  log::warn(name_, ": ", log::errno_text(err_), " for ", seconds, " s", state, ": ", reserved_, " connections ", verb_,
            " on a reserved descriptor, ", pauses_, " pauses of 100 ms with none to spare");
}

}  // namespace sp
