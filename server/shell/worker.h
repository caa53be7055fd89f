// A worker thread: one EventLoop that owns every session handed to it, the program's per-thread
// part that makes them (WorkerProgram), and its own counters (it is their only writer).
//
// Thread context: hand_off(), abort_all(), counters() and active() are safe from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"
#include "server/shell/acceptor.h"
#include "server/shell/admission.h"
#include "server/shell/session.h"

namespace sp {

struct WorkerOptions {
  int pin_cpu = -1;        // -1: not pinned
  int64_t busy_poll_ns = 0;  // EventLoop::set_busy_poll: 0 = sleep as soon as idle
};

class Worker {
 public:
  // own_listeners: with --reuseport, this worker's own SO_REUSEPORT sockets; it accepts on them
  // and keeps what it accepts (a full `admission` refuses a connection). Empty: connections come
  // only through hand_off(). admission (not owned, may be null): every session this worker runs
  // holds a slot of it, taken by whoever accepted the connection and released here when the
  // session ends.
  Worker(int id, const WorkerOptions& options, const WorkerProgramFactory& program,
         std::vector<Acceptor::Listening> own_listeners = {}, Admission* admission = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Any thread: queue an accepted connection for this worker (TBB queue + eventfd wake-up).
  void hand_off(Fd client, size_t listener, const Admission::Ticket& ticket = {});
  // Any thread: end every session now.
  void abort_all();
  // Any thread: start accepting on this worker's own listening sockets, if it has any.
  void start_accepting();
  // Any thread: close this worker's own listening sockets, if it has any; then `closed` runs (on
  // the worker's thread), once whatever it accepted before has been started as a session.
  void stop_accepting(std::function<void()> closed = nullptr);
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
  // How this worker moves bytes (WorkerProgram::mode_effective), fixed once constructed.
  const std::string& mode_effective() const { return mode_effective_; }

 private:
  void start_session(Fd client, size_t listener, const Admission::Ticket& ticket);
  void session_finished(Session* session);

  int id_;
  metrics::WorkerCounters counters_;
  std::atomic<uint64_t> handed_off_{0};  // connections given to hand_off()
  std::unique_ptr<WorkerEnv> env_;
  std::unique_ptr<WorkerProgram> program_;  // after env_: its sessions hold the env
  std::string mode_effective_;
  struct Live {
    std::unique_ptr<Session> session;
    Admission::Ticket ticket;  // what it holds of admission_
  };
  std::unordered_map<Session*, Live> sessions_;
  std::vector<Acceptor::Listening> own_listeners_;  // --reuseport: until start_accepting()
  Admission* admission_;  // not owned; null: no --max-connections bookkeeping
  std::unique_ptr<Acceptor> acceptor_;  // --reuseport only, on the loop thread
  std::unique_ptr<LoopThread> thread_;  // last: starts after, and stops before, everything above
};

}  // namespace sp
