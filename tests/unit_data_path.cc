// The mode module (server/paths/data_path.h): the mode list, its names and parsing, the fallback
// policy, a worker that falls back alone, and that worker's mode_effective in the stats.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/event_loop.h"
#include "metrics/metric_table.h"
#include "metrics/sampler.h"
#include "metrics/snapshot.h"
#include "server/paths/data_path.h"
#include "server/proxy/proxy_session.h"
#include "server/proxy/remote.h"
#include "server/shell/worker.h"

namespace sp {
namespace {

constexpr DataPath kAll[] = {DataPath::kReadWrite, DataPath::kSplice, DataPath::kAuto, DataPath::kUring,
                             DataPath::kSockmap};

TEST(DataPathModes, NamesAreTheFlagsValuesAndParseBack) {
  std::string names;
  for (DataPath mode : kAll) {
    if (!names.empty()) names += '|';
    names += to_string(mode);
    ASSERT_EQ(parse_data_path(to_string(mode)), mode) << to_string(mode);
  }
  EXPECT_EQ(names, data_path_names());
  EXPECT_EQ(std::string(to_string(DataPath::kReadWrite)), "rw");
  EXPECT_EQ(std::string(to_string(DataPath::kSockmap)), "sockmap");
}

TEST(DataPathModes, ParseRefusesWhatIsNoMode) {
  for (const char* bad : {"", "RW", "read-write", "io_uring", "splice ", "sockmap2"})
    EXPECT_EQ(parse_data_path(bad), std::nullopt) << "'" << bad << "'";
}

TEST(DataPathModes, FallbackPolicy) {
  EXPECT_EQ(fallback_of(DataPath::kUring), DataPath::kReadWrite);
  EXPECT_EQ(fallback_of(DataPath::kSockmap), DataPath::kSplice);
  for (DataPath pump : {DataPath::kReadWrite, DataPath::kSplice, DataPath::kAuto}) EXPECT_EQ(fallback_of(pump), pump);
  for (DataPath mode : kAll) {
    EXPECT_EQ(effective_mode(mode, true), mode);
    EXPECT_EQ(effective_mode(mode, false), fallback_of(mode));
  }
}

TEST(DataPathModes, PumpModesNeedNoProbeAndGiveARelay) {
  for (DataPath mode : {DataPath::kReadWrite, DataPath::kSplice, DataPath::kAuto}) {
    DataPathOptions options;
    options.mode = mode;
    DataPaths paths(options);
    EXPECT_EQ(paths.effective(), mode);
    EventLoop loop;
    metrics::WorkerCounters counters;
    auto worker = paths.for_worker(0, loop, counters);
    EXPECT_EQ(worker->effective(), mode);
    struct : RelayOwner {
      void relay_activity() override {}
      void relay_finished(int) override {}
      void relay_stopped() override {}
    } owner;
    Handler* none = nullptr;
    EXPECT_NE(worker->make_relay({-1, none, -1, none}, owner), nullptr);
  }
}

// The process's probe passes, the worker's own ring is refused (more entries than io_uring takes):
// that worker relays with read/write and says so in its own mode_effective.
TEST(DataPathModes, AWorkerThatFellBackAloneSaysSoInTheStats) {
  DataPathOptions options;
  options.mode = DataPath::kUring;
  options.finish();
  options.uring.entries = 1u << 20;  // above IORING_MAX_ENTRIES: io_uring_setup says EINVAL
  DataPaths paths(options);
  if (paths.effective() != DataPath::kUring) GTEST_SKIP() << "io_uring is refused here: no worker can differ";
  BackendPool remote({BackendSpec{HostPort{"127.0.0.1", 9}, 1}}, BackendBalance::kRoundRobin, BackendChecks{});
  ProxySessionOptions session;
  Worker worker(0, WorkerOptions{}, [&](WorkerEnv& env) -> std::unique_ptr<WorkerProgram> {
    return std::make_unique<ProxyWorker>(env, paths, remote, session);
  });
  EXPECT_EQ(worker.mode_effective(), "rw");

  metrics::StatsSource source;
  source.program = "proxy";
  source.mode = source.mode_effective = to_string(paths.effective());
  source.workers.push_back({worker.id(), worker.tid(), &worker.counters(), worker.mode_effective()});
  source.workers.push_back({1, worker.tid(), &worker.counters(), ""});  // a worker that says nothing
  metrics::Sampler sampler(source, 1);
  metrics::RawSample sample = sampler.take();
  auto json = nlohmann::json::parse(
      metrics::render_json(metrics::make_snapshot(sampler.layout(), sample, sample, sample, sample)));
  EXPECT_EQ(json["mode_effective"], "uring");
  EXPECT_EQ(json["workers"][0]["mode_effective"], "rw");
  EXPECT_EQ(json["workers"][1]["mode_effective"], "uring") << "a worker without its own says the process's";
}


// The ring's buffers follow --memory-budget and --buffer-size; with incremental consumption one
// ring of buffers no larger than 64 KiB (a held slice pins its whole buffer: with 1 MiB ones a
// crowd of 2,000 connections stalled, bench/results/2026-12-07c-vm-uring-connect), of the two
// pools' memory.
TEST(DataPathModes, IncrementalBuffersAreSmallAndHoldThePoolsMemory) {
  DataPathOptions options;
  options.finish();  // the defaults: --buffer-size 1M, --memory-budget 64M
  EXPECT_EQ(options.uring.buffer_size[kLargeBuffers], 1u << 20);
  EXPECT_EQ(options.uring.incremental_buffer_size, 64u << 10);
  EXPECT_EQ(options.uring.incremental_buffers * options.uring.incremental_buffer_size,
            options.uring.buffers[kSmallBuffers] * options.uring.buffer_size[kSmallBuffers] +
                options.uring.buffers[kLargeBuffers] * options.uring.buffer_size[kLargeBuffers]);
  options.pumps.buffer_size = 32 << 10;
  options.finish();
  EXPECT_EQ(options.uring.incremental_buffer_size, 32u << 10) << "never above --buffer-size";
  EXPECT_EQ(options.uring.incremental_buffers, 256u);
}

}  // namespace
}  // namespace sp
