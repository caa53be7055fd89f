// A connection owned by a worker. The worker creates it from an accepted socket, calls start(),
// and is told through the finished callback when it ends; then the worker disposes of it.
//
// Thread context: created, run and destroyed on its worker's loop thread.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"

namespace sp {

class Session;

// Everything a worker lends its sessions.
struct WorkerEnv {
  int worker_id;
  EventLoop& loop;
  metrics::WorkerCounters& counters;
  // Called by a session once it has closed its sockets; the worker then disposes of it.
  std::function<void(Session*)> finished;
};

class Session : public Disposable {
 public:
  ~Session() override = default;
  virtual void start() = 0;
  // Ends the session now (shutdown after the grace period): close both sockets, no more callbacks
  // except finished.
  virtual void abort() = 0;
  // Ends the session after a failure of the program's own (session_failed below): by default as
  // abort() does; a session that logs how it ended tells this end from the grace period's.
  virtual void fail(const std::exception& error) {
    (void)error;
    abort();
  }
  // Who the session serves, for the warnings about it ("127.0.0.1:5000"); empty: not known.
  virtual std::string client() const { return {}; }
};

// The one rule for errors once the program runs: exceptions belong to start-up, and one thrown
// while setting up or running a session (EventLoop::add's epoll_ctl failing: ENOMEM, ENOSPC, a
// descriptor epoll refuses) stops at the posted-task or event boundary and lands here: that
// session alone is closed (through fail(), so finished() still comes), the worker counts it in
// session_errors, and it is logged at most once a second (for all workers together).
// `session` may be null when the failure came before one existed. Loop thread.
void session_failed(WorkerEnv& env, Session* session, const std::exception& error);

// A program's part of one worker: made on the worker's loop thread before it serves (so it may
// set up per-thread kernel state there: a data path's ring), destroyed after the worker's
// sessions. It makes the sessions; the shell knows nothing of how they move bytes.
class WorkerProgram {
 public:
  virtual ~WorkerProgram() = default;
  virtual std::unique_ptr<Session> make_session(Fd client, size_t listener) = 0;
  // The worker has no session left: let go of what only pins memory (pools).
  virtual void idle() {}
  // How this worker moves bytes, as running, for the stats (empty: as the process says).
  virtual std::string mode_effective() const { return {}; }
};

using WorkerProgramFactory = std::function<std::unique_ptr<WorkerProgram>(WorkerEnv& env)>;

}  // namespace sp
