// A worker thread: one EventLoop that owns every session handed to it, with its own pipe and
// buffer pools and its own counters (it is their only writer).
//
// Thread context: hand_off(), abort_all(), counters() and active() are safe from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <unordered_map>

#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"
#include "server/acceptor.h"
#include "server/admission.h"
#include "server/session.h"
#include "server/sockmap_worker.h"
#include "server/uring.h"

namespace sp {

struct WorkerOptions {
  size_t pipe_size = 1 << 20;    // ceiling of the pipes' size ladder
  size_t buffer_size = 1 << 20;  // ceiling of the read/write buffers' size ladder
  size_t memory_budget = 64 << 20;  // buffers and pipes the pumps may hold before growth stops
  size_t max_pooled = 64;  // idle pipes, and idle buffers per size, kept per worker
  int pin_cpu = -1;        // -1: not pinned
  int64_t busy_poll_ns = 0;  // EventLoop::set_busy_poll: 0 = sleep as soon as idle
  bool uring = false;        // give each worker an io_uring that also does its sleeping
  UringOptions uring_options;
  Sockmap* sockmap = nullptr;  // --mode sockmap: the kernel relay, loaded by the process
};

class Worker {
 public:
  // own_listeners: with --reuseport, this worker's own SO_REUSEPORT sockets; it accepts on them
  // and keeps what it accepts (a full `admission` refuses a connection). Empty: connections come
  // only through hand_off(). admission (not owned, may be null): every session this worker runs
  // holds a slot of it, taken by whoever accepted the connection and released here when the
  // session ends.
  Worker(int id, const WorkerOptions& options, SessionFactory factory,
         std::vector<Acceptor::Listening> own_listeners = {}, Admission* admission = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Any thread: queue an accepted connection for this worker (TBB queue + eventfd wake-up).
  void hand_off(Fd client, size_t listener);
  // Any thread: end every session now.
  void abort_all();
  // Any thread: start accepting on this worker's own listening sockets, if it has any.
  void start_accepting();
  // Any thread: close this worker's own listening sockets, if it has any.
  void stop_accepting();
  void stop();

  int id() const { return id_; }
  int tid() const { return thread_->tid(); }
  const metrics::WorkerCounters& counters() const { return counters_; }
  uint64_t active() const { return counters_.connections_active(); }
  // Connections handed over minus sessions finished: what least-connections compares. Counted at
  // hand-off, so a burst accepted before any worker has started a session still spreads; both
  // counts only grow and `closed` is read first, so a racing read never understates the load nor
  // counts one connection twice.
  uint64_t load() const {
    uint64_t closed = counters_.connections_closed.get();
    uint64_t handed = handed_off_.load(std::memory_order_relaxed);
    return handed > closed ? handed - closed : 0;
  }
  EventLoop& loop() { return thread_->loop(); }

 private:
  void start_session(Fd client, size_t listener);
  void session_finished(Session* session);

  int id_;
  metrics::WorkerCounters counters_;
  std::atomic<uint64_t> handed_off_{0};  // connections given to hand_off()
  SessionFactory factory_;
  BufferPool buffers_;
  PipePool pipes_;
  BulkVerdict auto_verdict_;  // --mode auto: what this worker's bulk directions last measured
  PumpContext pump_context_;
  std::unique_ptr<Uring> uring_;  // --mode uring; outlives the sessions whose requests it carries
  std::unique_ptr<SockmapWorker> sockmap_;  // --mode sockmap; outlives the sessions that count on it
  std::unique_ptr<WorkerEnv> env_;
  std::unordered_map<Session*, std::unique_ptr<Session>> sessions_;
  std::vector<Acceptor::Listening> own_listeners_;  // --reuseport: until start_accepting()
  Admission* admission_;  // not owned; null: no --max-connections bookkeeping
  std::unique_ptr<Acceptor> acceptor_;  // --reuseport only, on the loop thread
  std::unique_ptr<LoopThread> thread_;  // last: starts after, and stops before, everything above
};

}  // namespace sp
