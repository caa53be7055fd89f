#include "server/paths/data_path.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <iterator>

#include "common/log.h"
#include "server/paths/pump_relay.h"
#include "server/paths/sockmap.h"
#include "server/paths/sockmap_relay.h"
#include "server/paths/sockmap_worker.h"
#include "server/paths/tcp_memory_guard.h"
#include "server/paths/uring_relay.h"

namespace sp {
namespace {

struct ModeEntry {
  DataPath mode;
  const char* name;
  DataPath fallback;
};

// The mode list: its order is the order of the names in --mode's help.
constexpr ModeEntry kModes[] = {
    {DataPath::kReadWrite, "rw", DataPath::kReadWrite},
    {DataPath::kSplice, "splice", DataPath::kSplice},
    {DataPath::kAuto, "auto", DataPath::kAuto},
    {DataPath::kUring, "uring", DataPath::kReadWrite},
    {DataPath::kSockmap, "sockmap", DataPath::kSplice},
};

const ModeEntry& entry(DataPath mode) {
  return *std::find_if(std::begin(kModes), std::end(kModes), [mode](const ModeEntry& e) { return e.mode == mode; });
}

}  // namespace

const char* to_string(DataPath mode) { return entry(mode).name; }

std::optional<DataPath> parse_data_path(std::string_view name) {
  for (const ModeEntry& e : kModes)
    if (name == e.name) return e.mode;
  return std::nullopt;
}

const char* data_path_names() { return "rw|splice|auto|uring|sockmap"; }

const char* data_path_help() {
  return "how bytes move: read/write through a user buffer, splice, auto (read/write for small messages; "
         "on bulk, whichever of the two is faster here), uring (completions on an io_uring per worker; "
         "falls back to rw where io_uring is refused), or sockmap (inside the kernel, a BPF program "
         "redirecting each segment to the other socket: it pays for small messages, while a bulk direction "
         "the kernel falls behind is held and its bytes copied on by the worker, below splice's rate; needs "
         "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, falls back to splice)";
}

DataPath fallback_of(DataPath mode) { return entry(mode).fallback; }

namespace {

// One line: the features in effect, and for each one left out whether the kernel lacks it (and
// which version brings it) or --uring-features did not ask for it.
void announce_uring_features(uint32_t offered, uint32_t asked) {
  std::string missing;
  for (uint32_t bit = 1; bit & kUringAllFeatures; bit <<= 1) {
    auto f = static_cast<UringFeature>(bit);
    if (offered & f && asked & f) continue;
    missing += missing.empty() ? "; without " : ", ";
    missing += uring_feature_name(f);
    missing += !(offered & f) ? std::string(" (this kernel lacks it: ") + uring_feature_since(f) + ")" : " (not in --uring-features)";
  }
  std::string using_ = uring_feature_list(offered & asked);
  log::announce("--mode uring: io_uring features ", using_.empty() ? "none beyond the base" : using_, missing,
            missing.empty() ? "" : " (docs/uring.md)");
}

}  // namespace

void DataPathOptions::finish() {
  // The ring's buffer pools become resident as traffic fills them: 4 MiB each at most, within the
  // memory budget, large buffers no larger than the --buffer-size ceiling.
  size_t pool = std::min<size_t>(pumps.memory_budget / 2, 4 << 20);
  uring.buffer_size[kLargeBuffers] = std::max(uring.buffer_size[kSmallBuffers], std::bit_floor(pumps.buffer_size));
  for (int g = 0; g < kUringGroups; ++g)
    uring.buffers[g] = static_cast<unsigned>(std::bit_floor(std::clamp<size_t>(pool / uring.buffer_size[g], 2, 1024)));
  // With incremental consumption the two pools' memory is one ring of buffers of at most 64 KiB: a
  // slice held for a slow destination pins its whole buffer, and with 1 MiB ones 2,000 connections
  // at once stalled 8-22 for 5 s or more where 64 KiB ones stalled 1-3, as the pools do
  // (bench/results/2026-12-07c-vm-uring-connect/NOTES.md); bulk moved the same.
  uring.incremental_buffer_size = std::min(uring.buffer_size[kLargeBuffers], kIncrementalBufferMax);
  uring.incremental_buffers =
      static_cast<unsigned>(std::bit_floor(std::clamp<size_t>(2 * pool / uring.incremental_buffer_size, 4, 1024)));
}

DataPaths::DataPaths(const DataPathOptions& options) : options_(options), effective_(options.mode) {
  if (options_.mode == DataPath::kUring) {
    if (std::string why = Uring::probe(); !why.empty()) {
      log::warn("--mode uring: ", why, ": relaying with read/write instead. To allow io_uring: sysctl "
                "kernel.io_uring_disabled=0; in a container, a seccomp profile that permits io_uring_setup, "
                "io_uring_enter and io_uring_register (docs/uring.md)");
      effective_ = effective_mode(options_.mode, false);
    } else {
      uint32_t offered = probe_uring_features();
      options_.uring.features = offered & options_.uring_features;
      announce_uring_features(offered, options_.uring_features);
      if (options_.uring.coalesce_us > 0 && !(offered & kUringBatchWait)) {
        log::warn("--uring-coalesce: this kernel lacks io_uring's min_wait (Linux 6.12): each wait ends at its first "
                  "completion");
        options_.uring.coalesce_us = 0;
      } else if (options_.uring.coalesce_us > 0) {
        log::announce("--mode uring: a wait that finds nothing ready lasts at least ", options_.uring.coalesce_us,
                      " us (--uring-coalesce)");
      }
    }
  }
  if (options_.mode == DataPath::kSockmap) {
    std::string why;
    sockmap_ = Sockmap::open(&why);
    if (!sockmap_) {
      log::warn("--mode sockmap: ", why, ": relaying with splice instead. To allow the kernel relay: run as root "
                "or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (in a container: --cap-add BPF --cap-add PERFMON "
                "--cap-add NET_ADMIN), on a "
                "kernel with CONFIG_BPF_STREAM_PARSER and the kfuncs bpf_cast_to_kern_ctx and bpf_rdonly_cast "
                "(Linux 6.2 and later; docs/sockmap.md)");
      effective_ = effective_mode(options_.mode, false);
    } else {
      tcp_memory_ = std::make_unique<TcpMemoryGuard>(options_.sockmap_tcp_memory_percent);
    }
  }
}

DataPaths::~DataPaths() = default;

std::string DataPaths::uring_features() const {
  return effective_ == DataPath::kUring ? uring_feature_list(options_.uring.features) : std::string();
}

unsigned DataPaths::uring_coalesce_us() const {
  return effective_ == DataPath::kUring ? options_.uring.coalesce_us : 0;
}

std::unique_ptr<DataPathWorker> DataPaths::for_worker(int id, EventLoop& loop, metrics::WorkerCounters& counters) {
  return std::unique_ptr<DataPathWorker>(
      new DataPathWorker(options_, effective_, sockmap_.get(), tcp_memory_.get(), id, loop, counters));
}

DataPathWorker::DataPathWorker(const DataPathOptions& options, DataPath effective, Sockmap* sockmap,
                               TcpMemoryGuard* tcp_memory, int id, EventLoop& loop, metrics::WorkerCounters& counters)
    : options_(options), effective_(effective), loop_(loop), counters_(counters), pools_(options.pumps, counters) {
  std::string name = "worker-" + std::to_string(id);
  if (effective_ == DataPath::kUring) {
    // The process probed io_uring before starting workers; a failure here is a resource limit.
    try {
      uring_ = std::make_unique<Uring>(options.uring, counters);
      loop.set_sleeper(uring_.get());
    } catch (const std::exception& e) {
      log::error(name, ": ", e.what(), "; this worker relays with read/write");
      effective_ = effective_mode(effective_, false);
    }
  }
  if (effective_ == DataPath::kSockmap && sockmap && tcp_memory) {
    try {
      sockmap_ = std::make_unique<SockmapWorker>(*sockmap, id, loop, counters, options.pumps.memory_budget,
                                                 *tcp_memory);
    } catch (const std::exception& e) {
      log::error(name, ": ", e.what(), "; this worker relays with splice");
      effective_ = effective_mode(effective_, false);
    }
  }
}

DataPathWorker::~DataPathWorker() {
  uring_.reset();  // exiting the ring cancels what sessions left in flight
  sockmap_.reset();
}

std::unique_ptr<Relay> DataPathWorker::make_relay(const RelaySockets& sockets, RelayOwner& owner) {
  switch (effective_) {
    case DataPath::kReadWrite: return make_pump_relay(PumpMode::kReadWrite, sockets, owner);
    case DataPath::kSplice: return make_pump_relay(PumpMode::kSplice, sockets, owner);
    case DataPath::kAuto: return make_pump_relay(PumpMode::kAuto, sockets, owner);
    case DataPath::kUring:
      return std::make_unique<UringRelay>(*uring_, loop_, pools_.context().buffers, sockets, counters_, owner);
    case DataPath::kSockmap: return make_sockmap_relay(sockets, owner);
  }
  return nullptr;
}

std::unique_ptr<Relay> DataPathWorker::make_pump_relay(PumpMode mode, const RelaySockets& sockets, RelayOwner& owner) {
  return std::make_unique<PumpRelay>(loop_, pools_.context(), mode, options_.turn_bytes, sockets, owner);
}

std::unique_ptr<Relay> DataPathWorker::make_sockmap_relay(const RelaySockets& sockets, RelayOwner& owner) {
  if (!sockmap_->admit_session()) {
    counters_.sockmap_declined.add();
    return make_pump_relay(PumpMode::kSplice, sockets, owner);
  }
  auto relay = std::make_unique<SockmapRelay>(*sockmap_, loop_, pools_.context(), sockets, owner);
  bool partial = false;
  int err = relay->attach(&partial);
  if (err == 0) return relay;
  // EOPNOTSUPP: a socket left ESTABLISHED (its peer closed) before the session was relayed, a
  // race of every busy proxy; a full map (E2BIG) or the kernel's memory (ENOMEM) is news.
  const char* what = partial ? "; resetting it" : "; relaying it with splice";
  if (err == EOPNOTSUPP) {
    log::debug("sockmap: a session's socket is no longer established", what);
  } else {
    static log::RateLimit limit;  // shared by the workers: one line a second in all
    log::warn_limited(limit, "sockmap: the kernel refused a session's sockets: ", log::errno_text(err), what);
  }
  counters_.sockmap_fallbacks.add();
  relay.reset();
  if (partial) return nullptr;
  return make_pump_relay(PumpMode::kSplice, sockets, owner);
}

}  // namespace sp
