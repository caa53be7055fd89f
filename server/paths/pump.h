// Moves bytes one way, from a source socket to a destination socket, either through a kernel
// pipe with splice(2) (no copy to user space) or through a user buffer with read/write.
//
// The pump tracks edge-triggered readiness itself: the owner reports readable/writable edges and
// calls run(); run() moves bytes until a side would block, the source ends, or the byte budget is
// spent (then the owner defers and calls run() again later). Bytes are read only when nothing is
// held, so a slow destination stops the source being read (backpressure) and at most one pipe or
// one buffer of data is in flight per direction. The pipe or buffer is taken from the worker's
// pool on the first read and given back as soon as it is drained, so an idle pump holds neither.
//
// Sizes adapt: a direction starts on the lowest rung of the size ladder (16 KiB) and climbs one
// rung each time a read fills what it holds, up to the ceiling (--buffer-size, --pipe-size) or what
// one turn's budget can fill (a read never asks for more than the budget left); it
// falls a rung when a read uses less than a quarter. Growth past the lowest rung is granted only
// while the worker's pumps hold less than its memory budget; past it, directions run at the
// lowest rung and the refusal is counted.
//
// Thread context: owned by one worker thread; not thread safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "metrics/counters.h"
#include "server/paths/bulk_chooser.h"
#include "server/paths/buffer_pool.h"
#include "server/paths/pipe_pool.h"

namespace sp {

// kAuto: read/write while messages are small (one syscall less per message than splice, which
// cannot tell a drained socket from a full pipe without one more call); once reads fill the
// largest buffer the direction is bulk, and a BulkChooser times read/write against splice and
// keeps the faster; a read smaller than the lowest rung ends the bulk. (The proxy's other modes,
// uring and sockmap, are not pumps: server/paths/data_path.h.)
enum class PumpMode { kReadWrite, kSplice, kAuto };

const char* to_string(PumpMode mode);

// What the pumps of one worker share: pools, the worker's counters and its memory budget.
struct PumpContext {
  PipePool& pipes;
  BufferPool& buffers;
  metrics::WorkerCounters& counters;
  size_t memory_budget = SIZE_MAX;  // bytes of buffers and pipes the pumps may hold past the lowest rung
  uint64_t auto_probe_bytes = BulkChooser::kProbeBytes;  // kAuto: bytes per timed probe of each method
  BulkVerdict* auto_verdict = nullptr;  // kAuto: the worker's last verdict, shared by its directions
};

// The rung a direction may hold within the worker's memory budget: `rung`, whose buffer or pipe
// takes `wanted` bytes, if the worker's other buffers and pipes (those held, less `holding`, the
// direction's own) leave room for it; else the lowest, which is always granted (every connection
// must move bytes), and the refusal is counted.
size_t affordable_rung(PumpContext& ctx, size_t rung, size_t wanted, size_t holding);

struct PumpOptions {
  size_t pipe_size = 1 << 20;    // ceiling of the pipes' size ladder
  size_t buffer_size = 1 << 20;  // ceiling of the read/write buffers' size ladder
  size_t memory_budget = 64 << 20;  // buffers and pipes the pumps may hold before growth stops
  size_t max_pooled = 64;  // idle pipes, and idle buffers per size, kept per worker
};

// One worker's pools and the PumpContext over them.
class PumpPools {
 public:
  PumpPools(const PumpOptions& options, metrics::WorkerCounters& counters)
      : buffers_(options.buffer_size, options.max_pooled, counters),
        pipes_(options.pipe_size, options.max_pooled, counters),
        context_{pipes_, buffers_, counters, options.memory_budget, BulkChooser::kProbeBytes, &verdict_} {}
  PumpContext& context() { return context_; }
  // The worker has no session left: pooled pipes and buffers only pin kernel and heap memory now.
  void clear() {
    pipes_.clear();
    buffers_.clear();
  }

 private:
  BufferPool buffers_;
  PipePool pipes_;
  BulkVerdict verdict_;  // kAuto: what this worker's bulk directions last measured
  PumpContext context_;
};

class Pump {
 public:
  enum class Status {
    kWaiting,   // blocked on the source (no data) or the destination (full): wait for an event
    kMoreWork,  // budget spent with work left: call run() again after other connections had a turn
    kFinished,  // the source ended and everything was delivered; the destination was shut down
    kFailed,    // a socket error (reset, broken pipe): error() tells which
  };

  // bytes_counter: the worker counter this direction adds to.
  Pump(int src, int dst, PumpMode mode, PumpContext& ctx, metrics::Counter& bytes_counter);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Record epoll edges: events seen on the source fd, or writability of the destination fd.
  void source_events(uint32_t events);
  void destination_writable() { dst_ready_ = true; }

  Status run(size_t budget);

  bool finished() const { return finished_; }
  bool holds_data() const { return held_ > 0; }
  // True when run() could make progress right now.
  bool has_work() const { return !finished_ && (held_ > 0 ? dst_ready_ : (src_ready_ || src_eof_)); }
  int error() const { return error_; }
  // The error came from reading the source (else from writing the destination): which peer broke.
  bool failed_at_source() const { return failed_at_source_; }
  uint64_t bytes() const { return bytes_; }
  PumpMode mode() const { return mode_; }
  // What the next read will use: splice, or read/write (differs from mode() only in kAuto).
  bool splicing() const { return mode_ == PumpMode::kSplice || (mode_ == PumpMode::kAuto && bulk_ && chooser_.splice()); }
  bool bulk() const { return bulk_; }
  // The rungs the next buffer or pipe will be taken from.
  size_t buffer_rung() const { return buffer_rung_; }
  size_t pipe_rung() const { return pipe_rung_; }

 private:
  // source -> pipe/buffer, at most `limit` bytes (*asked: what the call asked for): bytes, 0 at
  // EOF, -1 with errno
  ssize_t fill(size_t limit, size_t& asked);
  ssize_t drain();  // pipe/buffer -> destination: bytes, or -1 with errno
  void release_holding();
  void hold_buffer();
  bool hold_pipe();
  void adapt_after_fill(size_t n, size_t asked);

  int src_;
  int dst_;
  PumpMode mode_;
  PumpContext& ctx_;
  metrics::Counter& bytes_counter_;

  Pipe pipe_;                  // splice mode, only while bytes are in flight
  BufferPool::Buffer buffer_;  // read/write mode, only while bytes are in flight
  size_t offset_ = 0;          // read/write mode: first unsent byte in buffer_
  size_t held_ = 0;            // bytes read from the source and not yet written
  uint64_t bytes_ = 0;         // total delivered to the destination

  bool src_ready_ = false;  // an edge said readable and we have not seen EAGAIN since
  bool src_hup_ = false;    // the peer closed its side: read until EOF even after short reads
  bool src_eof_ = false;
  bool dst_ready_ = true;   // a fresh socket is writable; EAGAIN clears, EPOLLOUT sets
  bool finished_ = false;
  size_t buffer_rung_ = 0;  // the ladder rung of the next buffer
  size_t pipe_rung_ = 0;    // the ladder rung of the next pipe
  size_t turn_budget_ = SIZE_MAX;  // the last run()'s budget: no rung climbs past what one turn can fill
  bool bulk_ = false;       // kAuto: reads fill the largest buffer; chooser_ picks the method
  static constexpr uint8_t kSmallFillsEndBulk = 8;
  uint8_t small_fills_ = 0;  // consecutive reads under the lowest rung
  BulkChooser chooser_;
  int error_ = 0;
  bool failed_at_source_ = false;
};

}  // namespace sp
