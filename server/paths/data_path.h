// The one place that knows the proxy's data paths: the list of modes, their names and parsing,
// the start-up probes (io_uring, the sockmap program), the fallback policy, each worker's
// per-thread state (pools, its ring, its share of the kernel relay) and the factory that gives a
// connected session its Relay. Nothing else decides a mode: the session, the worker, the server
// shell and main only hold what this module made.
//
// Fallback: a mode whose kernel feature is refused runs as its fallback (uring -> rw,
// sockmap -> splice), said once in the log with the cure. The process probes first (DataPaths);
// a worker whose own ring or event ring is then refused falls back alone, and says so in its
// mode_effective in the stats. A session the kernel relay refuses is relayed with splice.
//
// Adding a mode: an entry in kModes and in DataPathWorker::make_relay, its Relay (a file pair),
// and its tests (tests/unit_data_path.cc).
//
// Thread context: DataPaths on the main thread; DataPathWorker on its worker's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/address.h"
#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"
#include "server/paths/pump.h"
#include "server/paths/relay.h"
#include "server/paths/uring.h"

namespace sp {

enum class DataPath { kReadWrite, kSplice, kAuto, kUring, kSockmap };

const char* to_string(DataPath mode);
// "rw", "splice", "auto", "uring", "sockmap"; nullopt for anything else.
std::optional<DataPath> parse_data_path(std::string_view name);
// The --mode flag's value list ("rw|splice|auto|uring|sockmap") and its help text.
const char* data_path_names();
const char* data_path_help();
// What the mode runs as where its kernel feature is refused (itself for the pump modes).
DataPath fallback_of(DataPath mode);
// The policy in one line: the mode asked for when the feature is available, else its fallback.
inline DataPath effective_mode(DataPath asked, bool available) { return available ? asked : fallback_of(asked); }

struct DataPathOptions {
  DataPath mode = DataPath::kReadWrite;
  PumpOptions pumps;
  UringOptions uring;          // --mode uring: derived from the pumps' sizes (finish())
  size_t turn_bytes = 1 << 20;  // the most bytes one direction moves per turn (turn_budget.h)
  uint32_t uring_features = kUringDefaultFeatures;  // the io_uring features to use where the kernel has them
  // --mode sockmap: new sessions are relayed with splice while the kernel's TCP memory is at or
  // above this percentage of tcp_mem's first mark (server/paths/sockmap_worker.h says why).
  unsigned sockmap_tcp_memory_percent = 50;
  // Sizes the ring's buffer pools from the pump options: call once they are parsed.
  void finish();
};

class Sockmap;
class SockmapWorker;
class TcpMemoryGuard;

// One worker's data path: made on its loop thread, destroyed after its sessions.
class DataPathWorker {
 public:
  ~DataPathWorker();
  DataPathWorker(const DataPathWorker&) = delete;
  DataPathWorker& operator=(const DataPathWorker&) = delete;

  // How this worker's sessions move bytes.
  DataPath effective() const { return effective_; }
  // The relay for a session whose sockets are both connected (and registered in the loop).
  // Null when the kernel took the session half-way and refused the rest: reset it then.
  std::unique_ptr<Relay> make_relay(const RelaySockets& sockets, RelayOwner& owner);
  // Whether sessions live on the worker's ring from connect to close (--uring-features connect):
  // the remote socket connects on it, neither socket joins the loop (RelaySockets::*_in_loop), and
  // both close on it.
  bool sessions_on_ring() const { return uring_ && (uring_->features() & kUringConnect); }
  // Starts the connect: op's completion follows once, with 0 or -errno, also after cancel_connect().
  // addr must stay valid until the loop next waits (the kernel copies it at submission).
  void connect_on_ring(int fd, const SocketAddress& addr, UringOp& op) { uring_->connect(fd, addr.get(), addr.length, &op); }
  void cancel_connect(UringOp& op) { uring_->cancel_request(&op); }
  // Closes a socket of such a session with the next submission.
  void close_on_ring(Fd fd) { uring_->close(fd.release()); }
  // The worker has no session left.
  void idle() { pools_.clear(); }

 private:
  friend class DataPaths;
  DataPathWorker(const DataPathOptions& options, DataPath effective, Sockmap* sockmap, TcpMemoryGuard* tcp_memory,
                 int id, EventLoop& loop, metrics::WorkerCounters& counters);
  std::unique_ptr<Relay> make_pump_relay(PumpMode mode, const RelaySockets& sockets, RelayOwner& owner);
  std::unique_ptr<Relay> make_sockmap_relay(const RelaySockets& sockets, RelayOwner& owner);

  const DataPathOptions& options_;
  DataPath effective_;
  EventLoop& loop_;
  metrics::WorkerCounters& counters_;
  PumpPools pools_;
  std::unique_ptr<Uring> uring_;  // uring; outlives the sessions whose requests it carries
  std::unique_ptr<SockmapWorker> sockmap_;  // sockmap; outlives the sessions that count on it
};

// The process's side: probes the asked mode's kernel feature once, before any worker starts.
class DataPaths {
 public:
  explicit DataPaths(const DataPathOptions& options);
  ~DataPaths();
  DataPaths(const DataPaths&) = delete;
  DataPaths& operator=(const DataPaths&) = delete;

  DataPath asked() const { return options_.mode; }
  // The mode after the process's probe (a worker may still fall back alone).
  DataPath effective() const { return effective_; }
  // uring: the features in effect ("defer_taskrun,multishot"); else empty.
  std::string uring_features() const;
  // --mode uring: the coalescing wait in effect, in microseconds (0: none).
  unsigned uring_coalesce_us() const;
  // On the worker's loop thread: its data path.
  std::unique_ptr<DataPathWorker> for_worker(int id, EventLoop& loop, metrics::WorkerCounters& counters);

 private:
  DataPathOptions options_;
  DataPath effective_;
  std::unique_ptr<Sockmap> sockmap_;  // outlives the workers: their sessions sit in its maps
  std::unique_ptr<TcpMemoryGuard> tcp_memory_;  // with sockmap_: the workers share its verdict
};

}  // namespace sp
