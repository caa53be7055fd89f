#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sp::test {

std::string temp_path(const char* what) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/sp-test-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++) + "." + what;
}

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string bin(const std::string& name) { return std::string(SP_BIN_DIR) + "/" + name; }

ChildProcess::ChildProcess(std::vector<std::string> argv)
    : out_path_(temp_path("out")), err_path_(temp_path("err")) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    // The test runner blocks no signals we care about, but be explicit: the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  ::unlink(out_path_.c_str());
  ::unlink(err_path_.c_str());
}

bool ChildProcess::running() {
  if (status_) return false;
  int st;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

std::string ChildProcess::out() const { return slurp(out_path_); }
std::string ChildProcess::err() const { return slurp(err_path_); }

RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  ChildProcess child(std::move(argv));
  RunResult r;
  auto code = child.wait(timeout);
  r.code = code ? *code : -1;
  r.out = child.out();
  r.err = child.err();
  return r;
}

namespace {

// The spellings of one flag, over all four programs (-c: the proxy's remote port or the client's
// connections, never both in one command line).
const std::vector<std::vector<std::string>> kSpellings = {
    {"-s", "--listen", "--server"}, {"-p", "--port"}, {"-r", "--remote"}, {"-c", "--remote-port", "--connections"},
    {"-w", "--workers"}, {"-T", "--threads"}, {"-n", "--count"}, {"-t", "--duration"}, {"-l", "--length"},
    {"-i", "--interval"}};

bool gives(const std::vector<std::string>& extra, const std::string& flag) {
  std::vector<std::string> names = {flag};
  for (const auto& s : kSpellings)
    if (std::find(s.begin(), s.end(), flag) != s.end()) names = s;
  for (const std::string& arg : extra)
    for (const std::string& name : names) {
      bool is_long = name.size() > 2;
      if (arg == name || (is_long && arg.rfind(name + "=", 0) == 0) || (!is_long && arg.size() > 2 && arg.rfind(name, 0) == 0 && arg[1] != '-'))
        return true;
    }
  return false;
}

}  // namespace

std::vector<std::string> with_args(std::vector<std::string> base, const std::vector<std::string>& extra) {
  std::vector<std::string> argv;
  for (size_t i = 0; i < base.size(); ++i) {
    bool has_value = i > 0 && base[i].size() > 1 && base[i][0] == '-' && i + 1 < base.size() &&
                     !base[i + 1].empty() && base[i + 1][0] != '-';
    if (has_value && gives(extra, base[i])) {
      ++i;  // the test's own value comes with extra
      continue;
    }
    argv.push_back(base[i]);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

RunResult sh(const std::string& command, std::chrono::milliseconds timeout) {
  return run({"/bin/sh", "-c", command}, timeout);
}

}  // namespace sp::test
