// Uring::after_batch: work asked for while a batch of completions is dispatched runs once every
// completion of the batch was, in the order asked; forget() takes it back; outside a batch it runs
// at once. (The uring relay prepares a bulk direction's send there, so that a light direction's
// send whose completion comes later in the batch is submitted ahead of it.)
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/fd.h"
#include "metrics/counters.h"
#include "server/paths/uring.h"

namespace sp {
namespace {

// A receive of one byte; its completion may ask for after_batch work (itself, or another op).
struct Op : UringOp {
  Op(std::string n, std::vector<std::string>& l) : name(std::move(n)), log(l) {}
  void on_completion(int result, uint32_t) override {
    log.push_back(name + (result == 1 ? " completed" : " failed"));
    if (ask) ring->after_batch(ask);
    if (forget) ring->forget(forget);
  }
  void after_batch() override { log.push_back(name + " after the batch"); }
  std::string name;
  std::vector<std::string>& log;
  Uring* ring = nullptr;
  UringOp* ask = nullptr;     // asked for in on_completion
  UringOp* forget = nullptr;  // forgotten in on_completion
  char byte = 0;
};

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    a = Fd(fds[0]);
    b = Fd(fds[1]);
  }
  Fd a, b;
};

class UringAfterBatch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = Uring::probe(); !why.empty()) GTEST_SKIP() << "io_uring refused here: " << why;
    ring_ = std::make_unique<Uring>(UringOptions{}, counters_);
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  }
  // Two receives whose data is there already: one batch of two completions.
  void run_batch(Op& first, Op& second) {
    for (Op* op : {&first, &second}) op->ring = ring_.get();
    ring_->receive_into(one_.a.get(), &first.byte, 1, &first);
    ring_->receive_into(two_.a.get(), &second.byte, 1, &second);
    ASSERT_EQ(::write(one_.b.get(), "x", 1), 1);
    ASSERT_EQ(::write(two_.b.get(), "y", 1), 1);
    for (int i = 0; i < 20 && log_.size() < 2; ++i) ring_->sleep(epoll_.get(), 100);
  }
  metrics::WorkerCounters counters_;
  std::unique_ptr<Uring> ring_;
  Fd epoll_;
  Pair one_, two_;
  std::vector<std::string> log_;
};

TEST_F(UringAfterBatch, RunsOnceEveryCompletionOfTheBatchWasDispatched) {
  Op bulk("bulk", log_), light("light", log_);
  bulk.ask = &bulk;  // the first completion asks: its work must wait for the second one
  run_batch(bulk, light);
  ASSERT_EQ(log_.size(), 3u) << "both receives should complete in one wait";
  EXPECT_EQ(log_[0], "bulk completed");
  EXPECT_EQ(log_[1], "light completed");
  EXPECT_EQ(log_[2], "bulk after the batch");
}

TEST_F(UringAfterBatch, ForgottenWorkDoesNotRun) {
  Op bulk("bulk", log_), light("light", log_);
  bulk.ask = &bulk;
  light.forget = &bulk;  // a session that ends within the batch forgets its op
  run_batch(bulk, light);
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[1], "light completed");
}

TEST_F(UringAfterBatch, OutsideABatchItRunsAtOnce) {
  Op op("op", log_);
  ring_->after_batch(&op);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0], "op after the batch");
}

}  // namespace
}  // namespace sp
