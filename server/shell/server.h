// The shape every server here shares: listening sockets, an acceptor thread, N worker threads
// and a graceful shutdown. The proxy and the ping server differ only in their WorkerProgram.
//
// Thread context: construct, shut down and destroy from one (main) thread; the accessors used by
// the stats thread are safe from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/address.h"
#include "server/shell/acceptor.h"
#include "server/shell/worker.h"

namespace sp {

enum class Balance { kRoundRobin, kLeastConnections };

struct ServerOptions {
  std::vector<HostPort> listen;
  int workers = 1;
  WorkerOptions worker;
  std::vector<int> pin_cpus;  // worker k runs on pin_cpus[k % size]; empty: not pinned
  Balance balance = Balance::kRoundRobin;
  uint64_t max_connections = 0;  // 0: no limit
  SourceRuleOptions source_rules;  // --allow, --deny, --max-per-source, --rate-per-source
  // Every worker accepts on its own SO_REUSEPORT sockets (the kernel spreads connections) instead
  // of one acceptor thread handing connections over.
  bool reuseport = false;
};

class Server {
 public:
  // Binds every listen address (throws std::system_error naming the address) and starts the
  // workers. Connections wait in the backlog until start_accepting(). `inherited`: listening
  // sockets another proxy handed over (server/shell/handover.h), used for the addresses they are
  // bound to instead of binding again.
  Server(const ServerOptions& options, const WorkerProgramFactory& program, std::vector<Fd> inherited = {});
  ~Server();

  // Starts the acceptor (or, with --reuseport, the workers' own accepting). Call once everything
  // else the program needs is set up: a flood of clients may take every free descriptor after.
  void start_accepting();
  // Stops accepting; live sessions carry on.
  void stop_accepting();
  // False once every listener is closed and what was accepted before is on its way to a worker.
  bool accepting() const { return open_accept_points_.load(std::memory_order_acquire) > 0; }
  // Ends every live session now.
  void abort_sessions();
  // Live sessions, and connections handed to a worker that has not started them yet.
  uint64_t active() const;

  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  // The acceptor thread's kernel tid; 0 with --reuseport, where the workers accept.
  int acceptor_tid() const { return acceptor_thread_ ? acceptor_thread_->tid() : 0; }
  // One entry per bound listen address (with the real port when 0 was asked for).
  size_t listener_count() const { return listeners_.size(); }
  const SocketAddress& listener_address(size_t i) const { return listeners_[i]->address; }
  const metrics::ListenerCounters& listener_counters(size_t i) const { return listeners_[i]->counters; }
  std::vector<SocketAddress> listen_addresses() const;
  // Every listening socket (the acceptor's, or each worker's with --reuseport): what a restart
  // hands over. Valid until stop_accepting().
  const std::vector<int>& listening_fds() const { return listening_fds_; }

 private:
  struct ListenAddress {
    SocketAddress address;
    metrics::ListenerCounters counters;
  };
  Admission::Verdict dispatch(Fd& client, size_t listener);
  Fd listen_on(const SocketAddress& address);  // an inherited socket bound there, or a new one

  ServerOptions options_;
  Admission admission_;  // source rules and --max-connections; before workers_, which release into it
  std::vector<std::unique_ptr<ListenAddress>> listeners_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<LoopThread> acceptor_thread_;  // null with --reuseport
  std::unique_ptr<Acceptor> acceptor_;           // lives on acceptor_thread_
  std::vector<Acceptor::Listening> acceptor_sockets_;  // until start_accepting()
  size_t next_worker_ = 0;                       // acceptor thread only
  std::vector<Fd> inherited_;                    // handed over and not (yet) matched to an address
  std::atomic<int> open_accept_points_{0};       // the acceptor thread, or each --reuseport worker
  std::vector<int> listening_fds_;
};

// Starts accepting, then runs the calling thread's loop until SIGINT/SIGTERM, then shuts down
// gracefully: stop accepting, let live sessions finish for up to grace_ns, end the rest. A second
// signal ends them at once. SIGHUP never stops the program: it calls on_hangup (reopen the stats
// log after logrotate). SIGINT, SIGTERM and SIGHUP must be blocked (block_signals) before threads
// start.
struct Takeover;
struct Restarts {
  // --handover: listen here for a new proxy that takes the listening sockets over; once it has
  // them, on_handed_over runs (give up what the new one needs: the stats address) and this one
  // drains as on SIGTERM.
  std::string handover_path;
  std::function<void()> on_handed_over;
  // The exchange with the proxy this one took the sockets from: confirmed once this one accepts,
  // then on_serving runs (bind what the old one has given up).
  Takeover* takeover = nullptr;
  std::function<void()> on_serving;
};
int serve_until_signalled(Server& server, int64_t grace_ns, const std::function<void()>& on_hangup = nullptr,
                          const Restarts& restarts = {});

int online_cpus();

}  // namespace sp
