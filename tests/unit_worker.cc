// A worker's posted-task boundary: a session whose set-up fails is closed alone, counted and
// logged; an accepted socket handed to a worker that never runs the task is still closed; and
// loop-only methods called from another thread abort in builds with the thread checks.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/address.h"
#include "common/socket.h"
#include "server/ping/echo_session.h"
#include "server/proxy/proxy_session.h"
#include "server/proxy/remote.h"
#include "server/shell/worker.h"
#include "tests/support/eventually.h"

namespace sp {
namespace {

using namespace std::chrono_literals;

using test::eventually;

WorkerProgramFactory echo_factory() {
  return [](WorkerEnv& env) -> std::unique_ptr<WorkerProgram> {
    return std::make_unique<EchoWorker>(env, PumpOptions{}, ServeMode::kEcho, PumpMode::kReadWrite);
  };
}

// A descriptor epoll refuses (a regular file: EPERM): EventLoop::add throws in Session::start,
// a real epoll_ctl failure with no hook in the code under test.
Fd unpollable() {
  Fd fd(::memfd_create("unpollable", MFD_CLOEXEC));
  EXPECT_TRUE(fd) << "memfd_create: " << errno;
  return fd;
}

std::pair<Fd, Fd> socket_pair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {Fd(sv[0]), Fd(sv[1])};
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// The worker still serves: a byte handed through a new session comes back.
void expect_echo(Worker& worker) {
  auto [ours, theirs] = socket_pair();
  set_nonblocking(theirs.get(), true);
  worker.hand_off(std::move(theirs), 0);
  char c = 'e';
  ASSERT_EQ(::write(ours.get(), &c, 1), 1);
  timeval tv{2, 0};
  ::setsockopt(ours.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char back = 0;
  EXPECT_EQ(::read(ours.get(), &back, 1), 1);
  EXPECT_EQ(back, 'e');
}

TEST(WorkerBoundary, EchoSessionWhoseRegistrationFailsIsClosedAloneAndCounted) {
  Worker worker(0, WorkerOptions{}, echo_factory());
  Fd bad = unpollable();
  int number = bad.get();
  worker.hand_off(std::move(bad), 0);
  ASSERT_TRUE(eventually([&] { return worker.counters().session_errors.get() == 1; }))
      << "the failure was not counted (or the worker died)";
  EXPECT_TRUE(eventually([&] { return worker.active() == 0; }));
  EXPECT_FALSE(is_open(number)) << "the failed session's descriptor was left open";
  expect_echo(worker);
  EXPECT_EQ(worker.counters().session_errors.get(), 1u);
}

TEST(WorkerBoundary, ProxySessionWhoseRegistrationFailsIsClosedAloneAndCounted) {
  Fd listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  BackendPool remote({BackendSpec{HostPort{"127.0.0.1", local_address(listener.get()).port()}, 1}}, BackendBalance::kRoundRobin,
                     BackendChecks{});
  ProxySessionOptions options;
  DataPaths paths{DataPathOptions{}};
  Worker worker(0, WorkerOptions{}, [&](WorkerEnv& env) -> std::unique_ptr<WorkerProgram> {
    return std::make_unique<ProxyWorker>(env, paths, remote, options);
  });
  Fd bad = unpollable();
  int number = bad.get();
  worker.hand_off(std::move(bad), 0);
  ASSERT_TRUE(eventually([&] { return worker.counters().session_errors.get() == 1; }));
  EXPECT_TRUE(eventually([&] { return worker.active() == 0; }));
  EXPECT_FALSE(is_open(number));
  // A good session after it still connects to the remote.
  auto [ours, theirs] = socket_pair();
  set_nonblocking(theirs.get(), true);
  worker.hand_off(std::move(theirs), 0);
  EXPECT_TRUE(eventually([&] { return worker.active() == 1; }));
  EXPECT_EQ(worker.counters().connect_failed.get(), 0u);
}

TEST(WorkerBoundary, SocketHandedToAStoppedWorkerIsClosedNotLeaked) {
  auto [ours, theirs] = socket_pair();
  {
    Worker worker(0, WorkerOptions{}, echo_factory());
    worker.stop();  // the posted task will never run
    worker.hand_off(std::move(theirs), 0);
  }
  // Closed with the queue that held it: our end sees EOF at once (a leak would block: EAGAIN).
  set_nonblocking(ours.get(), true);
  char c;
  EXPECT_EQ(::read(ours.get(), &c, 1), 0) << "the handed-off socket is still open: errno " << errno;
}

TEST(WorkerBoundaryDeathTest, LoopOnlyMethodFromAnotherThreadAborts) {
  if (!SP_THREAD_CHECKS_ON) GTEST_SKIP() << "thread-context checks are compiled out of this (release) build";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        LoopThread thread;
        std::atomic<bool> running{false};
        thread.loop().post([&] { running = true; });  // run() has bound the loop to its thread
        while (!running) std::this_thread::yield();
        thread.loop().run_after(0, [] {});  // from the test thread, while the loop runs
      },
      "EventLoop::run_after called from a thread other than the loop's");
  // Set-up before run() and tear-down after it are single-threaded and allowed.
  EventLoop loop;
  loop.cancel(loop.run_after(1, [] {}));
}

}  // namespace
}  // namespace sp
