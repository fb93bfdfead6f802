// CallerIdentity (daemon/backend/notify/caller_identity.h): right or refused, and bounded.
#include "daemon/backend/notify/caller_identity.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace hijack::backend {
namespace {

pid_t StartChild() {
  const pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  return pid;
}

void EndChild(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST(CallerIdentityTest, NamesTheThreadGroupOfThreadsAndProcesses) {
  CallerIdentity identity;
  auto pending = [] { return true; };
  auto self = identity.ThreadGroupOf(gettid(), pending);
  ASSERT_TRUE(self) << self.error().message;
  EXPECT_EQ(*self, getpid());
  pid_t thread_tid = 0;
  std::thread t([&] { thread_tid = gettid(); });
  t.join();
  // A thread that has ended is nobody's: with the call still "pending" that is an error, not a
  // guess.
  auto gone = identity.ThreadGroupOf(thread_tid, pending);
  EXPECT_FALSE(gone);
  const pid_t child = StartChild();
  auto c = identity.ThreadGroupOf(child, pending);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(*c, child);
  EndChild(child);
}

TEST(CallerIdentityTest, ACallNoLongerPendingGetsNoIdentity) {
  CallerIdentity identity;
  const pid_t child = StartChild();
  auto withdrawn = identity.ThreadGroupOf(child, [] { return false; });
  ASSERT_FALSE(withdrawn);
  EXPECT_EQ(withdrawn.error().code, ENOENT);
  EndChild(child);
}

// The entry of a thread that ended is never used again: the next lookup of that number finds
// whoever has it now (here: nobody), not the cached group.
TEST(CallerIdentityTest, AnEntryOfAReapedTaskIsNotReused) {
  CallerIdentity identity;
  const pid_t child = StartChild();
  ASSERT_TRUE(identity.ThreadGroupOf(child, [] { return true; }));
  EXPECT_EQ(identity.size(), 1u);
  EndChild(child);
  auto again = identity.ThreadGroupOf(child, [] { return true; });
  EXPECT_FALSE(again);
  EXPECT_EQ(identity.size(), 0u);
}

TEST(CallerIdentityTest, HoldsAtMostItsCapacity) {
  CallerIdentity identity(4);
  std::vector<pid_t> children;
  for (int i = 0; i < 10; ++i) {
    children.push_back(StartChild());
    auto id = identity.ThreadGroupOf(children.back(), [] { return true; });
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(*id, children.back());
    EXPECT_LE(identity.size(), 4u);
  }
  for (pid_t c : children) {
    EndChild(c);
  }
}

}  // namespace
}  // namespace hijack::backend
