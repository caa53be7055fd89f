// A client thread's commands from the coordinator and the counts its connections report; the
// connections themselves are in connection.h, ping_connection.cc and stream_connection.cc.
#include "client/load_worker.h"

#include <algorithm>
#include <atomic>

#include "client/connection.h"
#include "client/pacer.h"
#include "common/log.h"

namespace sp::client {
namespace {
constexpr int kMaxLoggedErrors = 10;

std::atomic<int> g_logged_errors{0};
std::atomic<bool> g_logged_connect_failure{false};
}  // namespace

LoadWorker::LoadWorker(const Options& options, const SocketAddress& server, int index, Coordinator& coordinator)
    : options_(options),
      server_(server),
      server_text_(server.to_string()),
      index_(index),
      coordinator_(coordinator),
      format_(options.length),
      tx_scratch_(options.length),
      rx_scratch_(options.mode == Mode::kPingPong ? options.length : std::max(options.length, kStreamReadSize)) {}

LoadWorker::~LoadWorker() { thread_.stop_and_join(); }

void LoadWorker::connect(const std::vector<int>& connection_ids) {
  if (options_.rate > 0) pacer_ = std::make_unique<Pacer>(loop());
  unresolved_ = static_cast<int>(connection_ids.size());
  for (int id : connection_ids) {
    connections_.push_back(options_.mode == Mode::kPingPong ? make_ping_connection(*this, id)
                                                            : make_stream_connection(*this, id));
  }
  if (unresolved_ == 0) coordinator_.worker_connected(index_);
  // Connect after all are created: a failure reports back at once and must see the full count.
  for (size_t i = 0; i < connections_.size(); ++i) connections_[i]->connect();
}

void LoadWorker::start(const Timeline& timeline) {
  timeline_ = timeline;
  started_ = true;
  for (auto& c : connections_) c->start();
  maybe_finish();
}

void LoadWorker::stop(int64_t end_ns) {
  timeline_.measure_end_ns = std::min(timeline_.measure_end_ns, end_ns);
  started_ = true;  // a stop before the start still finishes
  for (auto& c : connections_) c->stop(end_ns);
  maybe_finish();
}

void LoadWorker::abort() {
  started_ = true;
  for (auto& c : connections_) c->abort();
  maybe_finish();
}

void LoadWorker::snapshot(int interval) {
  auto s = std::make_shared<Sample>(interval_);
  interval_.reset();
  coordinator_.worker_snapshot(index_, interval, std::move(s));
}

bool LoadWorker::record_ping(int64_t t, int64_t latency_ns) {
  if (!measuring(t)) return false;
  auto add = [&](Sample& s) {
    ++s.messages;
    s.bytes_sent += options_.length;
    s.bytes_received += options_.length;
    s.latency.record(latency_ns);
  };
  add(total_);
  if (options_.interval_ns) add(interval_);
  return true;
}

void LoadWorker::record_sent(int64_t t, uint64_t bytes, uint64_t messages) {
  record_bytes(t, &Sample::bytes_sent, bytes, messages);
}

void LoadWorker::record_received(int64_t t, uint64_t bytes, uint64_t messages) {
  record_bytes(t, &Sample::bytes_received, bytes, messages);
}

void LoadWorker::record_bytes(int64_t t, uint64_t Sample::*direction, uint64_t bytes, uint64_t messages) {
  if (!measuring(t)) return;
  for (Sample* s : {&total_, &interval_}) {
    s->*direction += bytes;
    s->messages += messages;
  }
}

void LoadWorker::record_longest_gap(int64_t gap_ns) {
  for (Sample* s : {&total_, &interval_}) {
    if (gap_ns >= options_.stall_ns) ++s->stalls.connections;
    s->stalls.longest_gap_ns = std::max(s->stalls.longest_gap_ns, gap_ns);
  }
}

void LoadWorker::record_error(ErrorKind kind, const std::string& text) {
  total_.errors.add(kind);
  interval_.errors.add(kind);
  if (first_error_.empty()) first_error_ = text;
  // Refused connections all say the same: one line is enough, the summary has the count.
  if (kind == ErrorKind::kConnectFailure && g_logged_connect_failure.exchange(true)) return;
  int n = g_logged_errors.fetch_add(1);
  if (n < kMaxLoggedErrors) log::error(text);
  else if (n == kMaxLoggedErrors) log::error("more errors; only the first ", kMaxLoggedErrors, " are shown (counts in the summary)");
}

void LoadWorker::connection_resolved(bool connected) {
  if (connected) ++live_;
  if (--unresolved_ == 0) coordinator_.worker_connected(index_);
  if (!connected) maybe_finish();
}

void LoadWorker::connection_closed(int64_t done_ns) {
  --live_;
  finish_ns_ = std::max(finish_ns_, done_ns);
  maybe_finish();
}

void LoadWorker::maybe_finish() {
  if (!started_ || reported_ || live_ > 0 || unresolved_ > 0) return;
  reported_ = true;
  if (options_.mode == Mode::kDownload)
    log::debug("thread ", index_, ": generated ", download_pattern_.pages_generated(), " pattern pages of ",
               PatternCache::kPageSize, " bytes for the downloads");
  coordinator_.worker_finished(index_, finish_ns_, std::make_shared<Sample>(total_), first_error_);
}

}  // namespace sp::client
