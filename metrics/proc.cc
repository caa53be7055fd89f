#include "metrics/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string>
#include <vector>

namespace sp::metrics {

void CpuSplit::update(uint64_t total_ns, uint64_t user_ticks, uint64_t sys_ticks) {
  uint64_t previous = user_ns_ + sys_ns_;
  if (total_ns <= previous) return;  // nothing new (a clock never goes back; be safe anyway)
  // The kernel's ratio applied to the exact total; with no ticks yet, keep the old system part.
  uint64_t sys = sys_ns_;
  if (uint64_t ticks = user_ticks + sys_ticks; ticks > 0)
    sys = static_cast<uint64_t>(static_cast<long double>(total_ns) * sys_ticks / ticks);
  // Neither part may shrink: sys >= old sys, and user = total - sys >= old user.
  sys = std::clamp(sys, sys_ns_, total_ns - user_ns_);
  sys_ns_ = sys;
  user_ns_ = total_ns - sys;
}

namespace proc {
namespace {

std::optional<uint64_t> to_number(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

uint64_t timeval_ns(const timeval& tv) {
  return static_cast<uint64_t>(tv.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(tv.tv_usec) * 1000ULL;
}

}  // namespace

std::optional<StatTicks> parse_stat(std::string_view text) {
  // "pid (comm) state ppid ..." : fields are counted after the last ')', since comm is free text.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  // After ')': state is field 3 of stat(5); utime is field 14 and stime field 15.
  constexpr int kUtime = 14 - 3, kStime = 15 - 3;
  StatTicks ticks;
  int index = 0;
  size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    if (end == pos) break;
    std::string_view field = rest.substr(pos, end - pos);
    if (index == kUtime || index == kStime) {
      auto value = to_number(field);
      if (!value) return std::nullopt;
      (index == kUtime ? ticks.utime : ticks.stime) = *value;
      if (index == kStime) return ticks;
    }
    ++index;
    pos = end;
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_status_field(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view value = line.substr(key.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      return to_number(value);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

bool read_small_file(const char* path, std::string& out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.resize(4096);
  size_t used = 0;
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return used > 0;
}

std::optional<uint64_t> thread_cpu_ns(int tid) {
  // The Linux encoding of a per-thread CPU clock (what pthread_getcpuclockid builds from a TID):
  // ~tid << 3 | CPUCLOCK_PERTHREAD (4) | CPUCLOCK_SCHED (2). Readable for any thread of this
  // process, and exact: the scheduler's runtime in nanoseconds, including the running slice.
  clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 4 | 2);
  timespec ts;
  if (::clock_gettime(clock, &ts) != 0) return std::nullopt;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

bool sample_thread(int tid, CpuSplit& split, CpuTimes& out) {
  if (tid <= 0) return false;
  auto total = thread_cpu_ns(tid);
  if (!total) return false;
  std::string text;
  std::string base = "/proc/self/task/" + std::to_string(tid);
  StatTicks ticks;
  if (read_small_file((base + "/stat").c_str(), text))
    if (auto parsed = parse_stat(text)) ticks = *parsed;
  split.update(*total, ticks.utime, ticks.stime);
  out.user_ns = split.user_ns();
  out.sys_ns = split.sys_ns();
  if (read_small_file((base + "/status").c_str(), text)) {
    out.voluntary = parse_status_field(text, "voluntary_ctxt_switches").value_or(out.voluntary);
    out.involuntary = parse_status_field(text, "nonvoluntary_ctxt_switches").value_or(out.involuntary);
  }
  return true;
}

CpuTimes process_cpu() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  CpuTimes t;
  t.user_ns = timeval_ns(ru.ru_utime);
  t.sys_ns = timeval_ns(ru.ru_stime);
  t.voluntary = static_cast<uint64_t>(ru.ru_nvcsw);
  t.involuntary = static_cast<uint64_t>(ru.ru_nivcsw);
  return t;
}

namespace {
std::string proc_dir(int pid) { return pid ? "/proc/" + std::to_string(pid) : std::string("/proc/self"); }
}  // namespace

uint64_t rss_bytes(int pid) {
  std::string text;
  if (!read_small_file((proc_dir(pid) + "/statm").c_str(), text)) return 0;
  size_t space = text.find(' ');
  if (space == std::string::npos) return 0;
  std::string_view rest = std::string_view(text).substr(space + 1);
  auto pages = to_number(rest.substr(0, rest.find(' ')));
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return pages ? *pages * page : 0;
}

uint64_t open_fds(int pid) {
  DIR* dir = ::opendir((proc_dir(pid) + "/fd").c_str());
  if (!dir) return 0;
  uint64_t n = 0;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  if (pid && pid != ::getpid()) return n;
  return n > 0 ? n - 1 : 0;  // the directory stream's own descriptor
}

std::optional<StatTicks> process_ticks(int pid) {
  std::string text;
  if (!read_small_file((proc_dir(pid) + "/stat").c_str(), text)) return std::nullopt;
  return parse_stat(text);
}

std::optional<uint64_t> stat_field(std::string_view text, int number) {
  size_t close = text.rfind(')');
  if (close == std::string_view::npos || number < 3) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  int index = 3;
  for (size_t pos = 0; pos < rest.size();) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    size_t end = std::min(rest.find(' ', pos), rest.size());
    if (end == pos) break;
    if (index == number) return to_number(rest.substr(pos, end - pos));
    ++index;
    pos = end;
  }
  return std::nullopt;
}

double start_time_unix_s() {
  std::string stat, system;
  if (!read_small_file("/proc/self/stat", stat) || !read_small_file("/proc/stat", system)) return 0;
  auto ticks = stat_field(stat, 22);  // starttime: clock ticks after boot
  size_t at = system.find("\nbtime ");
  if (!ticks || at == std::string::npos) return 0;
  std::string_view rest = std::string_view(system).substr(at + 7);
  auto boot = to_number(rest.substr(0, rest.find('\n')));
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return boot ? static_cast<double>(*boot) + static_cast<double>(*ticks) / tick : 0;
}

uint64_t thread_count() {
  std::string text;
  if (!read_small_file("/proc/self/status", text)) return 0;
  return parse_status_field(text, "Threads").value_or(0);
}

std::optional<uint64_t> parse_sockstat_tcp_pages(std::string_view sockstat) {
  while (!sockstat.empty()) {
    size_t end = sockstat.find('\n');
    std::string_view line = sockstat.substr(0, end);
    if (line.substr(0, 5) == "TCP: ") {
      size_t mem = line.find(" mem ");
      return mem == std::string_view::npos ? std::nullopt : to_number(line.substr(mem + 5));
    }
    sockstat.remove_prefix(end == std::string_view::npos ? sockstat.size() : end + 1);
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_tcp_mem_mark(std::string_view tcp_mem, int mark) {
  for (int i = 0;; ++i) {
    size_t at = tcp_mem.find_first_not_of(" \t\n");
    if (at == std::string_view::npos) return std::nullopt;
    tcp_mem.remove_prefix(at);
    size_t end = tcp_mem.find_first_of(" \t\n");
    if (i == mark) return to_number(tcp_mem.substr(0, end));
    if (end == std::string_view::npos) return std::nullopt;
    tcp_mem.remove_prefix(end);
  }
}

std::optional<bool> parse_protocols_tcp_pressure(std::string_view protocols) {
  size_t column = std::string_view::npos;  // of "press", from the header line
  while (!protocols.empty()) {
    size_t end = protocols.find('\n');
    std::string_view line = protocols.substr(0, end);
    protocols.remove_prefix(end == std::string_view::npos ? protocols.size() : end + 1);
    std::vector<std::string_view> fields;
    for (size_t at = 0; (at = line.find_first_not_of(' ', at)) != std::string_view::npos;) {
      size_t stop = line.find(' ', at);
      fields.push_back(line.substr(at, stop == std::string_view::npos ? std::string_view::npos : stop - at));
      at = stop;
    }
    if (fields.empty()) continue;
    if (fields[0] == "protocol") {
      auto it = std::find(fields.begin(), fields.end(), "press");
      if (it != fields.end()) column = static_cast<size_t>(it - fields.begin());
    } else if (fields[0] == "TCP" && column < fields.size()) {
      if (fields[column] == "yes") return true;
      if (fields[column] == "no") return false;
      return std::nullopt;  // "NI": the protocol has no pressure state
    }
  }
  return std::nullopt;
}

std::optional<bool> tcp_memory_pressure() {
  std::string text;
  return read_small_file("/proc/net/protocols", text) ? parse_protocols_tcp_pressure(text) : std::nullopt;
}

std::optional<uint64_t> tcp_memory_pages() {
  std::string text;
  return read_small_file("/proc/net/sockstat", text) ? parse_sockstat_tcp_pages(text) : std::nullopt;
}

std::optional<uint64_t> tcp_mem_mark(int mark) {
  std::string text;
  return read_small_file("/proc/sys/net/ipv4/tcp_mem", text) ? parse_tcp_mem_mark(text, mark) : std::nullopt;
}

}  // namespace proc
}  // namespace sp::metrics
