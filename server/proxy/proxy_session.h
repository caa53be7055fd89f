// One proxied connection: the accepted client socket, the remote socket the worker connects
// non-blocking, and, once both are connected, the Relay the worker's data path gives it. The
// session owns the sockets, the connect and idle timeouts and the order of the teardown; how the
// bytes move is the relay's business (server/paths/relay.h).
//
// ProxyWorker is the proxy's part of a worker (the shell's WorkerProgram): the worker's data path
// and the session factory.
//
// Thread context: its worker's loop thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/address.h"
#include "common/event_loop.h"
#include "common/fd.h"
#include "server/paths/data_path.h"
#include "server/paths/relay.h"
#include "server/proxy/backend_pool.h"
#include "server/shell/session.h"
#include "server/shell/session_log.h"

namespace sp {

struct ProxySessionOptions {
  int64_t connect_timeout_ns = 5'000'000'000;
  int64_t idle_timeout_ns = 0;  // 0: never
  int send_proxy = 0;           // PROXY protocol version to send the remote first (1, 2), 0: none
  bool log_sessions = false;    // a line when a session ends (server/shell/session_log.h)
  bool accept_proxy = false;    // a PROXY header (v1 or v2) leads every client's stream
  int64_t accept_proxy_timeout_ns = 5'000'000'000;
};

class ProxySession : public Session, private RelayOwner {
 public:
  ProxySession(WorkerEnv& env, DataPathWorker& paths, Fd client, BackendPool& backends,
               const ProxySessionOptions& options);
  ~ProxySession() override;
  void start() override;
  void abort() override;
  void fail(const std::exception& error) override;
  std::string client() const override;  // "?" once the kernel no longer says

 private:
  // One registered fd: forwards its events to the session.
  struct Side : Handler {
    Side(ProxySession& s, bool client) : session(s), is_client(client) {}
    void on_events(uint32_t events) override { session.on_side_events(is_client, events); }
    ProxySession& session;
    bool is_client;
  };
  enum class State { kReadingHeader, kConnecting, kOpen, kStopping, kClosed };
  // The remote's connect made on the worker's io_uring (DataPathWorker::sessions_on_ring()).
  struct RingConnect : UringOp {
    explicit RingConnect(ProxySession& s) : session(s) {}
    void on_completion(int result, uint32_t) override { session.on_ring_connect(result); }
    ProxySession& session;
  };

  void read_proxy_header();  // --accept-proxy: then connects, or closes the client
  void start_connecting();  // to the next backend the pool picks
  void connect_next();      // to the next address of the backend
  void on_side_events(bool client, uint32_t events);
  void on_connect_result(uint32_t events);
  void on_ring_connect(int result);  // 0 or -errno
  void address_failed(int err);      // a connect to the current address failed: the next one
  void connected();
  bool send_proxy_header();  // --send-proxy: false when the remote did not take it whole
  void connect_failed(int err, bool timed_out);
  void arm_idle_timer();
  void close(bool reset);
  void close_sockets(bool reset);
  void relay_activity() override;
  void relay_finished(int err) override;
  void relay_stopped() override;
  // The first cause of the end wins: a reset after an idle timeout's close is its consequence.
  void set_end(SessionEnd end, std::string error = {});
  void take_tally(bool both_eof);  // both_eof: the relay ended on both EOFs
  void write_session_log();

  WorkerEnv& env_;
  DataPathWorker& paths_;
  BackendPool& backends_;
  const ProxySessionOptions& options_;
  Fd client_;
  Backend* backend_ = nullptr;  // the one being connected to, then relayed to
  uint64_t tried_ = 0;          // backends tried, a bit per index
  bool holds_backend_ = false;  // connected: counted in its active sessions
  Fd remote_fd_;
  std::shared_ptr<const Remote::Addresses> addresses_;
  size_t address_index_ = 0;
  int last_connect_error_ = 0;
  State state_ = State::kConnecting;
  Side client_side_{*this, true};
  Side remote_side_{*this, false};
  RingConnect ring_connect_{*this};
  bool ring_connecting_ = false;  // its completion is still to come: the session waits for it to close
  bool client_in_loop_ = false;   // client_ is registered in the loop
  bool remote_in_loop_ = false;   // remote_fd_ is (a connect the loop watches)
  std::unique_ptr<Relay> relay_;  // once connected
  bool reset_on_close_ = false;
  uint32_t pending_client_events_ = 0;  // seen while connecting, replayed once connected
  EventLoop::TimerId timer_ = 0;        // connect timeout, then idle timeout
  int64_t last_activity_ns_ = 0;
  int64_t started_ns_ = 0;
  // Who the session is for and how it ended, kept only when something needs it (--log-sessions, a
  // PROXY header's addresses): held inline, two socket addresses and the rest doubled what an idle
  // session costs (Scale.TenThousandIdleConnections… bounds it at 1 KiB).
  struct Account {
    // For the session log and the warnings: taken at start (after a reset the kernel no longer
    // tells the peer's address).
    SocketAddress client;
    SocketAddress listener;
    // The client's and the listener's addresses as a PROXY header in front said (--accept-proxy).
    std::optional<SocketAddress> carried_client;
    std::optional<SocketAddress> carried_listener;
    std::optional<SessionEnd> end;
    std::string error;
    RelayTally tally;  // the relay's, taken before it stops
    bool tallied = false;
  };
  Account& account();
  std::unique_ptr<Account> account_;
};

class ProxyWorker : public WorkerProgram {
 public:
  ProxyWorker(WorkerEnv& env, DataPaths& paths, BackendPool& backends, const ProxySessionOptions& options)
      : env_(env), paths_(paths.for_worker(env.worker_id, env.loop, env.counters)), backends_(backends), options_(options) {}
  std::unique_ptr<Session> make_session(Fd client, size_t) override {
    return std::make_unique<ProxySession>(env_, *paths_, std::move(client), backends_, options_);
  }
  void idle() override { paths_->idle(); }
  std::string mode_effective() const override { return to_string(paths_->effective()); }

 private:
  WorkerEnv& env_;
  std::unique_ptr<DataPathWorker> paths_;
  BackendPool& backends_;
  const ProxySessionOptions& options_;
};

}  // namespace sp
