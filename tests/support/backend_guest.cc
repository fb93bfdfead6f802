#include "tests/support/backend_guest.h"

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "daemon/launcher/child_function.h"
#include "tests/support/backend_params.h"

namespace hijack::testing {
namespace {

// Before the reaper exists: it reads SIGCHLD from a signalfd.
boost::asio::io_context& BlockSigchld(boost::asio::io_context& loop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return loop;
}

}  // namespace

BackendGuest::BackendGuest(const std::string& backend_name)
    : reaper_(BlockSigchld(loop_)), backends_(loop_, reaper_) {
  auto backend = backends_.Get(KindOf(backend_name));
  EXPECT_TRUE(backend) << backend.error().message;
  backend_ = backend ? *backend : nullptr;
}

int BackendGuest::Run(std::initializer_list<int> intercept, std::function<int()> guest,
                      FakeSyscallHandler& handler, std::chrono::seconds deadline) {
  if (backend_ == nullptr) {
    return -1;
  }
  LaunchSpec spec;
  spec.guest_id = 1;
  spec.argv = {"child"};
  for (int nr : intercept) {
    spec.intercept.Add(nr);
  }
  launcher::ChildFunction::Set(spec, std::move(guest));
  auto pid = backend_->Launch(spec, handler);
  EXPECT_TRUE(pid) << pid.error().message;
  if (!pid) {
    return -1;
  }
  main_pid_ = *pid;
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!handler.exit_status && std::chrono::steady_clock::now() < end) {
    loop_.run_one_for(std::chrono::milliseconds(100));
  }
  if (!handler.exit_status) {
    ADD_FAILURE() << "the guest did not end within " << deadline.count() << " s";
    return -1;
  }
  return WIFEXITED(*handler.exit_status) ? WEXITSTATUS(*handler.exit_status) : -1;
}

bool BackendCanInjectFd(const std::string& name) {
  boost::asio::io_context loop;
  launcher::ProcessReaper reaper(loop);
  backend::BackendSet backends(loop, reaper);
  auto backend = backends.Get(KindOf(name));
  return backend && (*backend)->CanInjectFd();
}

}  // namespace hijack::testing
