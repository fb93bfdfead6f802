// Runs a program to completion for a test and captures what it printed.
//
//   ProcessResult r = RunProcess({hijackd, "run", "--", guest, "basic"});
//   EXPECT_EQ(r.exit_code, 0) << r.err;
//
// Also starts long-running programs (servers under hijackd) and stops them by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hijack::testing {

struct ProcessResult {
  int wait_status = 0;
  int exit_code = -1;  // shell style: 128+N for death by signal N
  std::string out;
  std::string err;
  bool timed_out = false;
};

struct ProcessOptions {
  std::vector<std::string> env_add;  // "NAME=value" added to the test's environment
  std::string stdin_data;
  std::chrono::seconds deadline{120};
  std::string cwd{};  // the child's working directory; empty: the test's own
};

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& opts = {});

// A started process with its stdout/stderr going to files in `dir`.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& dir);
  ~BackgroundProcess();  // SIGKILLs and reaps if still running
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits for the exit (up to the deadline; then SIGKILL).
  ProcessResult Stop(int sig, std::chrono::seconds deadline = std::chrono::seconds(60));
  // Waits until stdout contains `text`, or the process ends, or the deadline passes.
  bool WaitForOutput(const std::string& text, std::chrono::seconds deadline);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  std::optional<int> status_;
};

// A fresh temporary directory, removed with its contents at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content, int mode = 0644) const;

 private:
  std::string path_;
};

// Copies of build outputs that another user can execute, wherever the checkout is: a clone
// under /root sits in a 0700 directory that no other user may enter. Each file is copied into
// a fresh 0755 temporary directory, keeping its mode bits plus read and execute for all, under
// the relative name it is given (so "lib/libx.so" next to "bin/prog" keeps an installed layout).
// Throws std::runtime_error when a source cannot be read: that is a broken build, not a skip.
//
//   StagedFiles staged({{kHijackd, "bin/hijackd"}, {kAgentLibrary, "lib/libhijack-agent.so"}});
//   RunProcess({"/usr/bin/setpriv", "--reuid=65534", ..., staged.path("bin/hijackd"), ...});
struct StagedFile {
  std::string source;  // the build output
  std::string name;    // its relative name in the staging directory
};
class StagedFiles {
 public:
  StagedFiles(std::initializer_list<StagedFile> files);
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  // The staged copy of relative name `name`.
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

 private:
  TempDir dir_;
};

std::string ReadFile(const std::string& path);  // "" when it cannot be read
// The lines of `text` without their '\n'; a last line without one is a line too.
std::vector<std::string> Lines(const std::string& text);

// `word` as one sh(1) word, whatever it holds (spaces in a checkout's path, quotes): in single
// quotes, each single quote written as '\''.
std::string ShellQuote(const std::string& word);

// Checks `condition` until it holds or `deadline` passes; true if it held. Between checks it
// yields the CPU for a millisecond, so that the processes the test waits for can run on a
// machine with few cores.
template <typename F>
bool Eventually(F condition, std::chrono::seconds deadline = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int PickFreePort();

// Connects to 127.0.0.1:port and sends an HTTP GET; returns the whole response ("" on failure).
std::string HttpGet(int port, const std::string& path);

// Retries HttpGet until it answers or the deadline passes.
std::string HttpGetWhenUp(int port, const std::string& path, std::chrono::seconds deadline);

}  // namespace hijack::testing
