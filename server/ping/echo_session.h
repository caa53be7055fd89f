// A tcp_ping_server connection: echoes every byte back (a pump from the socket to itself, so it
// has the proxy's backpressure and half-close), or discards what it reads (--sink), or sends a
// continuous pattern (--source).
//
// Thread context: its worker's loop thread only.
#pragma once

#include "common/event_loop.h"
#include "common/fd.h"
#include "server/paths/pump.h"
#include "server/shell/session.h"

namespace sp {

enum class ServeMode { kEcho, kSink, kSource };

class EchoSession : public Session, public Handler {
 public:
  EchoSession(WorkerEnv& env, PumpContext& pumps, Fd client, ServeMode mode, PumpMode pump_mode);
  ~EchoSession() override;
  void start() override;
  void abort() override;
  void on_events(uint32_t events) override;
  void on_ready() override { serve(); }

 private:
  void serve();
  bool sink();    // false when the session should close
  bool source();  // false when the session should close
  void close(bool reset);

  WorkerEnv& env_;
  Fd fd_;
  ServeMode mode_;
  Pump echo_;
  bool open_ = false;
  bool readable_ = false;
  bool writable_ = true;
  uint64_t source_offset_ = 0;  // --source: position in the endless pattern
};

// The ping server's part of a worker: its pump pools, and the sessions.
class EchoWorker : public WorkerProgram {
 public:
  EchoWorker(WorkerEnv& env, const PumpOptions& pumps, ServeMode mode, PumpMode pump_mode)
      : env_(env), pools_(pumps, env.counters), mode_(mode), pump_mode_(pump_mode) {}
  std::unique_ptr<Session> make_session(Fd client, size_t) override {
    return std::make_unique<EchoSession>(env_, pools_.context(), std::move(client), mode_, pump_mode_);
  }
  void idle() override { pools_.clear(); }

 private:
  WorkerEnv& env_;
  PumpPools pools_;
  ServeMode mode_;
  PumpMode pump_mode_;
};

}  // namespace sp
