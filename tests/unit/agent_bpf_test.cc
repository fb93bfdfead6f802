// The trampoline exemption of the kernel filter (daemon/launcher/bpf_builder.h): the generated
// program, instruction by instruction, and its behaviour in the kernel.
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "daemon/launcher/bpf_builder.h"
#include "hijack/exec_page.h"

namespace hijack::launcher {
namespace {

FilterProgram NotifyEverything() {
  return FilterProgram({sock_filter{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_USER_NOTIF}});
}

TEST(BpfBuilderTest, GoldenPrefixForTwoExemptCalls) {
  SyscallSet exempt;
  exempt.Add(SYS_write);
  exempt.Add(SYS_read);
  auto prog = AddTrampolineExemption(NotifyEverything(), exempt, 0x0000001234567019);
  ASSERT_TRUE(prog) << prog.error().message;
  EXPECT_EQ(Disassemble(prog->instructions()),
            "  0: ld [4]\n"
            "  1: jeq #0xc000003e jt 2 jf 11\n"
            "  2: ld [0]\n"
            "  3: jeq #0x0 jt 6 jf 4\n"
            "  4: jeq #0x1 jt 6 jf 5\n"
            "  5: ja 11\n"
            "  6: ld [8]\n"
            "  7: jeq #0x34567019 jt 8 jf 11\n"
            "  8: ld [12]\n"
            "  9: jeq #0x12 jt 10 jf 11\n"
            " 10: ret ALLOW\n"
            " 11: ret USER_NOTIF\n");
}

TEST(BpfBuilderTest, NothingExemptLeavesTheProgramAsItWas) {
  auto prog = AddTrampolineExemption(NotifyEverything(), SyscallSet(), 0x1000);
  ASSERT_TRUE(prog);
  EXPECT_EQ(Disassemble(prog->instructions()), "  0: ret USER_NOTIF\n");
}

TEST(BpfBuilderTest, LibseccompProgramFollowsThePrefixUnchanged) {
  SyscallSet intercept;
  intercept.Add(SYS_write);
  intercept.Add(SYS_getppid);
  auto base = CompileFilter(intercept, FilterAction::kNotify);
  ASSERT_TRUE(base) << base.error().message;
  SyscallSet exempt;
  exempt.Add(SYS_write);
  auto prog = AddTrampolineExemption(*base, exempt, 0x7000'0000'0019);
  ASSERT_TRUE(prog) << prog.error().message;
  const auto& all = prog->instructions();
  const auto& tail = base->instructions();
  ASSERT_EQ(all.size(), 10 + tail.size());
  EXPECT_EQ(std::memcmp(all.data() + 10, tail.data(), tail.size() * sizeof(sock_filter)), 0);
}

TEST(BpfBuilderTest, TooManyExemptCallsForAnEightBitJumpAreRefused) {
  SyscallSet exempt;
  for (int nr = 0; nr < 300; ++nr) {
    exempt.Add(nr);
  }
  EXPECT_FALSE(AddTrampolineExemption(NotifyEverything(), exempt, 0x1000));
}

// In a forked child: with no listener, SECCOMP_RET_USER_NOTIF fails calls with ENOSYS
// (seccomp_unotify(2)), which makes "reached the supervisor" visible without one.
TEST(BpfBuilderTest, KernelAllowsExemptCallsOnlyFromTheTrampoline) {
  SyscallSet intercept;
  intercept.Add(SYS_write);
  intercept.Add(SYS_getppid);
  auto base = CompileFilter(intercept, FilterAction::kNotify);
  ASSERT_TRUE(base);
  // The trampoline lives wherever the kernel puts it; a fixed address could collide with
  // sanitizer shadow memory in an instrumented test binary. The forked child inherits it.
  void* code = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(code, MAP_FAILED);
  std::memcpy(code, exec_page::kTrampolineCode, sizeof exec_page::kTrampolineCode);
  ASSERT_EQ(mprotect(code, 4096, PROT_READ | PROT_EXEC), 0);
  const uint64_t tramp = reinterpret_cast<uint64_t>(code);
  SyscallSet exempt;
  exempt.Add(SYS_write);
  auto prog = AddTrampolineExemption(*base, exempt, tramp + exec_page::kTrampolineSyscallEnd);
  ASSERT_TRUE(prog);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    using Fn = long (*)(long, long, long, long, long, long, long);
    auto fn = reinterpret_cast<Fn>(code);
    sock_fprog fprog = prog->fprog();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
      _exit(101);
    }
    int failures = 0;
    // Exempt, from the trampoline: runs.
    failures |= fn(SYS_write, pipefd[1], reinterpret_cast<long>("t"), 1, 0, 0, 0) == 1 ? 0 : 1;
    // Exempt, from anywhere else: goes to the (absent) supervisor.
    failures |= syscall(SYS_write, pipefd[1], "s", 1) == -1 && errno == ENOSYS ? 0 : 2;
    // Intercepted but not exempt, even from the trampoline: goes to the supervisor.
    failures |= fn(SYS_getppid, 0, 0, 0, 0, 0, 0) == -ENOSYS ? 0 : 4;
    // Not intercepted: runs from anywhere.
    failures |= syscall(SYS_getpid) > 0 ? 0 : 8;
    failures |= fn(SYS_getpid, 0, 0, 0, 0, 0, 0) > 0 ? 0 : 16;
    _exit(failures);
  }
  close(pipefd[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "bit mask of failed checks (101: filter)";
  char buf[8];
  EXPECT_EQ(read(pipefd[0], buf, sizeof buf), 1);
  EXPECT_EQ(buf[0], 't');
  close(pipefd[0]);
  munmap(code, 4096);
}

}  // namespace
}  // namespace hijack::launcher
