// One proxied connection: the accepted client socket, the remote socket the worker connects
// non-blocking, and a pump each way (client -> remote, remote -> client).
//
// Thread context: its worker's loop thread only.
#pragma once

#include <memory>

#include "common/event_loop.h"
#include "common/fd.h"
#include "server/pump.h"
#include "server/remote.h"
#include "server/session.h"
#include "server/sockmap_relay.h"
#include "server/uring_relay.h"

namespace sp {

struct ProxySessionOptions {
  PumpMode mode = PumpMode::kReadWrite;
  int64_t connect_timeout_ns = 5'000'000'000;
  int64_t idle_timeout_ns = 0;  // 0: never
  size_t budget = 1 << 20;      // the most bytes one direction moves per turn (server/turn_budget.h)
};

class ProxySession : public Session, private UringRelay::Owner, private SockmapRelay::Owner {
 public:
  ProxySession(WorkerEnv& env, Fd client, Remote& remote, const ProxySessionOptions& options);
  ~ProxySession() override;
  void start() override;
  void abort() override;

 private:
  // One registered fd: forwards its events to the session.
  struct Side : Handler {
    Side(ProxySession& s, bool client) : session(s), is_client(client) {}
    void on_events(uint32_t events) override { session.on_side_events(is_client, events); }
    void on_ready() override { session.pump(); }
    ProxySession& session;
    bool is_client;
  };
  enum class State { kConnecting, kOpen, kStopping, kClosed };

  void connect_next();
  void on_side_events(bool client, uint32_t events);
  void on_connect_result(uint32_t events);
  void connected();
  bool start_sockmap();
  void connect_failed(int err, bool timed_out);
  void pump();
  void arm_idle_timer();
  void close(bool reset);
  void close_sockets(bool reset);
  void relay_activity() override;
  void relay_finished(int err) override;
  void relay_stopped() override;
  void sockmap_finished(int err) override;

  WorkerEnv& env_;
  Remote& remote_;
  const ProxySessionOptions& options_;
  Fd client_;
  Fd remote_fd_;
  std::shared_ptr<const Remote::Addresses> addresses_;
  size_t address_index_ = 0;
  int last_connect_error_ = 0;
  State state_ = State::kConnecting;
  Side client_side_{*this, true};
  Side remote_side_{*this, false};
  std::unique_ptr<Pump> to_remote_;  // created once connected: both fds are known then
  std::unique_ptr<Pump> to_client_;
  std::unique_ptr<UringRelay> relay_;   // --mode uring instead of the pumps
  std::unique_ptr<SockmapRelay> sockmap_;  // --mode sockmap instead of the pumps
  bool reset_on_close_ = false;
  uint32_t pending_client_events_ = 0;  // seen while connecting, replayed once connected
  EventLoop::TimerId timer_ = 0;        // connect timeout, then idle timeout
  int64_t last_activity_ns_ = 0;
};

}  // namespace sp
