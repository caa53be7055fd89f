// A connection owned by a worker. The worker creates it from an accepted socket, calls start(),
// and is told through the finished callback when it ends; then the worker disposes of it.
//
// Thread context: created, run and destroyed on its worker's loop thread.
#pragma once

#include <exception>
#include <functional>
#include <memory>

#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"
#include "server/buffer_pool.h"
#include "server/pipe_pool.h"
#include "server/pump.h"
#include "server/uring.h"

namespace sp {

class Session;
class SockmapWorker;

// Everything a worker lends its sessions.
struct WorkerEnv {
  int worker_id;
  EventLoop& loop;
  metrics::WorkerCounters& counters;
  PumpContext& pumps;
  Uring* uring;  // the worker's ring in --mode uring, else null
  SockmapWorker* sockmap;  // the worker's share of the kernel relay in --mode sockmap, else null
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
};

// The one rule for errors once the program runs: exceptions belong to start-up, and one thrown
// while setting up or running a session (EventLoop::add's epoll_ctl failing: ENOMEM, ENOSPC, a
// descriptor epoll refuses) stops at the posted-task or event boundary and lands here: that
// session alone is closed (through abort(), so finished() still comes), the worker counts it in
// session_errors, and it is logged at most once a second (for all workers together).
// `session` may be null when the failure came before one existed. Loop thread.
void session_failed(WorkerEnv& env, Session* session, const std::exception& error);

using SessionFactory = std::function<std::unique_ptr<Session>(WorkerEnv& env, Fd client, size_t listener)>;

}  // namespace sp
