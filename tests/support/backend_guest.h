// BackendGuest: a guest run in this process under one backend of the table, with the loop, the
// reaper and the BackendSet a supervisor would have, but no supervisor: the test's handler
// decides every call.
//
//   FakeSyscallHandler h([](const SyscallEvent&, GuestMemory&) { return Decision::Return(7); });
//   BackendGuest guest(GetParam());                       // "notify", "ptrace", "ptrace-all"
//   int rc = guest.Run({SYS_getppid}, [] { return syscall(SYS_getppid) == 7 ? 0 : 1; }, h);
//   EXPECT_EQ(rc, 0);
//
// The guest is a function of this program run in a forked child (launcher::ChildFunction), so a
// test states exactly which calls it makes. Failures to make the backend or to launch are
// reported as test failures and give -1.
//
// Threads: the constructor blocks SIGCHLD in the calling thread (the reaper reads it from a
// signalfd); everything else runs on that thread, which runs the loop.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>

#include "daemon/backend/backend_set.h"
#include "daemon/launcher/reaper.h"
#include "hijack/backend.h"
#include "tests/support/fake_syscall_handler.h"

namespace hijack::testing {

class BackendGuest {
 public:
  explicit BackendGuest(const std::string& backend_name);
  BackendGuest(const BackendGuest&) = delete;
  BackendGuest& operator=(const BackendGuest&) = delete;

  // The backend, or null when it cannot run here (a test failure was reported).
  Backend* backend() const { return backend_; }
  backend::BackendSet& backends() { return backends_; }
  boost::asio::io_context& loop() { return loop_; }

  // Launches `guest` with `intercept` and runs the loop until `handler` saw the guest's exit or
  // `deadline` passed. Returns the exit status, or -1 (not launched, not exited in time, or
  // killed by a signal: wait_status() tells).
  int Run(std::initializer_list<int> intercept, std::function<int()> guest,
          FakeSyscallHandler& handler, std::chrono::seconds deadline = std::chrono::seconds(60));

  pid_t main_pid() const { return main_pid_; }

 private:
  boost::asio::io_context loop_;
  launcher::ProcessReaper reaper_;
  backend::BackendSet backends_;
  Backend* backend_ = nullptr;
  pid_t main_pid_ = -1;
};

// Whether the backend `name` can apply Decision::InjectFd (policies that need it are refused
// elsewhere); false where it cannot run at all.
bool BackendCanInjectFd(const std::string& name);

}  // namespace hijack::testing
