// Runs one of the project's binaries (or any program) as a child process for end-to-end tests.
// The destructor ends the child it started, by PID, and reaps it: no test leaves strays.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace sp::test {

// Absolute path of a built binary: bin("proxy").
std::string bin(const std::string& name);

// A fresh path under $TMPDIR (or /tmp) ending in `what`, unique in this process; nothing is created.
std::string temp_path(const char* what);

class ChildProcess {
 public:
  // Starts argv[0] (a path) with the given arguments. stdout/stderr go to files in the test's
  // temporary directory, readable with out()/err().
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit code (128+signal if killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_path_;
  std::string err_path_;
};

// Runs a command to completion (bounded by timeout) and returns {exit code, stdout}.
struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};
RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));
// A shell pipeline (/bin/sh -c; stdin is /dev/null), bounded in time.
RunResult sh(const std::string& command, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// `base` (a program and the flags a helper gives it by default) followed by a test's `extra`,
// less each default flag with a value that `extra` gives again (in any spelling: -w, --workers,
// -w2, --workers=2): the programs refuse a value flag given twice, so the test's value replaces
// the default instead of following it.
std::vector<std::string> with_args(std::vector<std::string> base, const std::vector<std::string>& extra);

}  // namespace sp::test
