// What the kernel knows about this process and its threads: CPU time, context switches, memory
// and open descriptors, read from /proc/self and the per-thread CPU clocks. Nothing here touches
// the threads being measured, so the stats thread can sample workers without their help.
//
// Thread context: any thread (stateless, except CpuSplit which belongs to its caller).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sp::metrics {

// Cumulative CPU time and context switches of one thread (or of the whole process).
struct CpuTimes {
  uint64_t user_ns = 0;
  uint64_t sys_ns = 0;
  uint64_t voluntary = 0;    // context switches the thread asked for (blocking, sleeping)
  uint64_t involuntary = 0;  // preemptions
  uint64_t total_ns() const { return user_ns + sys_ns; }
};

// Splits an exact CPU time into user and system parts.
//
// The kernel keeps one exact number per thread (sum_exec_runtime, nanoseconds, readable from any
// thread of the process through the thread's CPU clock) and a tick-sampled user/system split
// (/proc/self/task/TID/stat, in 10 ms clock ticks). Scaling the exact total by the tick ratio
// gives nanosecond totals with the kernel's split; the state here keeps both parts monotonic, so
// deltas between samples are never negative, and user + sys always equals the latest total.
class CpuSplit {
 public:
  void update(uint64_t total_ns, uint64_t user_ticks, uint64_t sys_ticks);
  uint64_t user_ns() const { return user_ns_; }
  uint64_t sys_ns() const { return sys_ns_; }

 private:
  uint64_t user_ns_ = 0;
  uint64_t sys_ns_ = 0;
};

namespace proc {

struct StatTicks {
  uint64_t utime = 0;  // clock ticks (sysconf(_SC_CLK_TCK))
  uint64_t stime = 0;
};

// Parses the text of /proc/.../stat (the command name may hold spaces and parentheses).
std::optional<StatTicks> parse_stat(std::string_view text);
// A "Key:\tvalue" line of /proc/.../status as a number ("Threads", "voluntary_ctxt_switches").
std::optional<uint64_t> parse_status_field(std::string_view text, std::string_view key);
// Reads a small /proc file with one read(2); false when it cannot be opened (thread gone).
bool read_small_file(const char* path, std::string& out);

// Exact CPU time of a thread of this process, from its CPU clock; nullopt once it has exited.
std::optional<uint64_t> thread_cpu_ns(int tid);
// A thread's CPU time (exact total, kernel split kept monotonic by `split`) and context switches.
// False when the thread is gone; `out` is left as it was.
bool sample_thread(int tid, CpuSplit& split, CpuTimes& out);
// The whole process, all threads including finished ones (getrusage, microseconds).
CpuTimes process_cpu();
// pid 0 is this process (/proc/self); another pid is read the same way (the tests read their
// children through these). 0 when the process is gone.
uint64_t rss_bytes(int pid = 0);  // resident set, /proc/PID/statm
uint64_t open_fds(int pid = 0);   // entries of /proc/PID/fd (not counting the one reading them)
// User + system CPU of a whole process, in clock ticks (/proc/PID/stat); nullopt when gone.
std::optional<StatTicks> process_ticks(int pid = 0);
uint64_t thread_count();   // "Threads:" of /proc/self/status
// Field `number` of stat(5) (from 3, the state: counted after the command name's last ')').
std::optional<uint64_t> stat_field(std::string_view text, int number);
// When this process started, in seconds since 1970 (stat's starttime after /proc/stat's btime); 0 if unknown.
double start_time_unix_s();

// The kernel's TCP memory, in pages, for the whole machine (every network namespace shares it):
// what its sockets hold now ("TCP: inuse … mem N" of /proc/net/sockstat), and net.ipv4.tcp_mem's
// marks ("low pressure high"; mark 0, 1 or 2), where the kernel starts to regulate, squeezes
// every socket, and refuses. nullopt where the file cannot be read or parsed.
std::optional<uint64_t> parse_sockstat_tcp_pages(std::string_view sockstat);
std::optional<uint64_t> parse_tcp_mem_mark(std::string_view tcp_mem, int mark);
std::optional<uint64_t> tcp_memory_pages();
std::optional<uint64_t> tcp_mem_mark(int mark);
// Whether the kernel regulates TCP memory now (the "press" column of /proc/net/protocols' TCP
// row). Set past tcp_mem's second mark, it clears only below the first: memory the kernel never
// gives back can keep it set for good.
std::optional<bool> parse_protocols_tcp_pressure(std::string_view protocols);
std::optional<bool> tcp_memory_pressure();

}  // namespace proc
}  // namespace sp::metrics
