#include "client/runner.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/report.h"
#include "client/load_worker.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/log.h"
#include "common/signals.h"

namespace sp::client {
namespace {

class Runner final : public Coordinator {
 public:
  Runner(const Options& o, const SocketAddress& server) : o_(o), server_(server), server_text_(server.to_string()) {}

  int run() {
    if (!o_.json) print(banner_text(o_, server_text_));
    SignalWatcher signals(loop_, {SIGINT, SIGTERM}, [this](int sig) {
      if (!stopping_) {
        log::info("signal ", sig, ": stopping; finishing in-flight messages (again to abort)");
        return stop(now_ns());
      }
      log::info("signal ", sig, ": aborting");
      for (auto& w : workers_) w->post([w = w.get()] { w->abort(); });
    });
    std::vector<std::vector<int>> ids(static_cast<size_t>(o_.threads));
    for (int c = 0; c < o_.connections; ++c) ids[static_cast<size_t>(c % o_.threads)].push_back(c);
    for (int t = 0; t < o_.threads; ++t) workers_.push_back(std::make_unique<LoadWorker>(o_, server_, t, *this));
    for (int t = 0; t < o_.threads; ++t)
      workers_[static_cast<size_t>(t)]->post([w = workers_[static_cast<size_t>(t)].get(), list = ids[static_cast<size_t>(t)]] {
        w->connect(list);
      });
    loop_.run();
    for (auto& w : workers_) w.reset();  // joins each thread
    return total_.errors.total() ? 1 : 0;
  }

  // Coordinator: called on worker threads; everything is handed to the main loop.
  void worker_connected(int worker) override {
    loop_.post([this, worker] { on_connected(worker); });
  }
  void worker_finished(int worker, int64_t finish_ns, std::shared_ptr<Sample> total, std::string first_error) override {
    loop_.post([this, worker, finish_ns, total, first_error] { on_finished(worker, finish_ns, *total, first_error); });
  }
  void worker_snapshot(int worker, int interval, std::shared_ptr<Sample> sample) override {
    loop_.post([this, worker, interval, sample] { on_snapshot(worker, interval, *sample); });
  }

 private:
  struct PendingInterval {
    int replies = 0;
    Sample sample;
  };

  void on_connected(int) {
    if (++connected_ < o_.threads || started_ || stopping_) return;
    started_ = true;
    timeline_.start_ns = now_ns();
    timeline_.measure_start_ns = timeline_.start_ns + o_.warmup_ns;
    if (o_.timed()) timeline_.measure_end_ns = timeline_.measure_start_ns + o_.duration_ns;
    for (auto& w : workers_) w->post([w = w.get(), tl = timeline_] { w->start(tl); });
    if (o_.timed())
      end_timer_ = loop_.run_after(timeline_.measure_end_ns - now_ns(), [this] {
        end_timer_ = 0;
        stop(timeline_.measure_end_ns);
      });
    if (o_.interval_ns) schedule_interval();
  }

  // Interval k (from 1) ends at measure_start + k * interval; the last, partial one is taken
  // when the workers have finished.
  void schedule_interval() {
    int64_t boundary = timeline_.measure_start_ns + next_interval_ * o_.interval_ns;
    if (o_.timed() && boundary > timeline_.measure_end_ns - kNsPerMs) return;
    interval_timer_ = loop_.run_after(boundary - now_ns(), [this] {
      interval_timer_ = 0;
      request_snapshot(next_interval_++);
      schedule_interval();
    });
  }

  void request_snapshot(int k) {
    for (auto& w : workers_) w->post([w = w.get(), k] { w->snapshot(k); });
  }

  void stop(int64_t end_ns) {
    if (stopping_) return;
    stopping_ = true;
    stop_ns_ = end_ns;
    cancel_timers();
    for (auto& w : workers_) w->post([w = w.get(), end_ns] { w->stop(end_ns); });
  }

  void cancel_timers() {
    if (end_timer_) loop_.cancel(end_timer_);
    if (interval_timer_) loop_.cancel(interval_timer_);
    end_timer_ = interval_timer_ = 0;
  }

  void on_finished(int, int64_t finish_ns, const Sample& total, const std::string& first_error) {
    total_.merge(total);
    finish_ns_ = std::max(finish_ns_, finish_ns);
    if (first_error_.empty()) first_error_ = first_error;
    if (++finished_ < o_.threads) return;
    cancel_timers();
    // The measured run ends when the last connection finished its work (count reached, stopped,
    // or failed), and never after the planned end.
    int64_t end = std::min({finish_ns_, stop_ns_, timeline_.measure_end_ns});
    duration_s_ = started_ && end > timeline_.measure_start_ns
                      ? static_cast<double>(end - timeline_.measure_start_ns) / 1e9
                      : 0.0;
    if (o_.interval_ns && started_) {
      final_interval_ = next_interval_;  // the rest since the last boundary
      request_snapshot(final_interval_);
      return;
    }
    finish();
  }

  void on_snapshot(int, int k, const Sample& s) {
    PendingInterval& p = intervals_[k];
    p.sample.merge(s);
    ++p.replies;
    // Workers answer in order, so intervals complete in order.
    while (!intervals_.empty() && intervals_.begin()->second.replies == o_.threads) {
      int index = intervals_.begin()->first;
      const Sample& sample = intervals_.begin()->second.sample;
      double start_s = static_cast<double>(index - 1) * static_cast<double>(o_.interval_ns) / 1e9;
      double length_s = static_cast<double>(o_.interval_ns) / 1e9;
      if (index == final_interval_) length_s = duration_s_ - start_s;
      if (length_s > 1e-3) {
        Window w{&o_, server_text_, start_s, length_s, &sample, ""};
        print(o_.json ? interval_json(w, index).dump() + "\n" : interval_text(w));
      }
      intervals_.erase(intervals_.begin());
      if (index == final_interval_) return finish();
    }
  }

  void finish() {
    Window w{&o_, server_text_, 0, duration_s_, &total_, first_error_};
    print(o_.json ? summary_json(w).dump() + "\n" : summary_text(w));
    loop_.stop();
  }

  static void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }

  const Options& o_;
  SocketAddress server_;
  std::string server_text_;
  EventLoop loop_;  // before workers_: they post to it until they are joined
  std::vector<std::unique_ptr<LoadWorker>> workers_;
  Timeline timeline_;
  int connected_ = 0;
  int finished_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  int64_t stop_ns_ = std::numeric_limits<int64_t>::max();
  int64_t finish_ns_ = 0;
  double duration_s_ = 0;
  EventLoop::TimerId end_timer_ = 0;
  EventLoop::TimerId interval_timer_ = 0;
  int next_interval_ = 1;
  int final_interval_ = -1;
  std::map<int, PendingInterval> intervals_;
  Sample total_;
  std::string first_error_;
};

}  // namespace

int run(const Options& options) {
  // Before any thread starts, so all of them inherit the mask; the main loop takes the signals.
  block_signals({SIGINT, SIGTERM});
  SocketAddress server;
  try {
    server = resolve(options.server, false).front();
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
  Runner runner(options, server);
  return runner.run();
}

}  // namespace sp::client
