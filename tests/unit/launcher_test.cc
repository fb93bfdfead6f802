#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "daemon/launcher/filter.h"
#include "daemon/launcher/launcher.h"

namespace hijack::launcher {
namespace {

TEST(ResolveExecutable, SearchesPathLikeAShell) {
  auto sh = ResolveExecutable("sh", "/nonexistent:/usr/bin:/bin");
  ASSERT_TRUE(sh) << sh.error().message;
  EXPECT_EQ(*sh, "/usr/bin/sh");
  auto missing = ResolveExecutable("hijack-no-such-thing", "/usr/bin");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 127);
  EXPECT_EQ(missing.error().message, "hijack-no-such-thing: command not found");
  auto dir = ResolveExecutable("/tmp", "");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code, 126);
}

TEST(CompileFilter, ProducesAProgramForBothActions) {
  SyscallSet set;
  set.Add(0);
  set.Add(2);
  for (auto action : {FilterAction::kNotify, FilterAction::kTrace}) {
    auto prog = CompileFilter(set, action);
    ASSERT_TRUE(prog) << prog.error().message;
    EXPECT_GT(prog->instructions().size(), 4u);
    EXPECT_LT(prog->instructions().size(), 4096u);  // BPF_MAXINSNS
  }
}

}  // namespace
}  // namespace hijack::launcher
