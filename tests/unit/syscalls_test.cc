// Tests of hijack_syscalls: the native syscall table and classes, the argument decoder, result
// formatting and the errno names of include/hijack/result.h.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/syscalls/arg_decoder.h"
#include "daemon/syscalls/syscall_table.h"
#include "hijack/result.h"
#include "tests/support/fake_guest_memory.h"

namespace hijack::syscalls {
namespace {

using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::HasSubstr;
using ::testing::Not;

using hijack::testing::FakeGuestMemory;

SyscallEvent Call(int nr, std::array<uint64_t, 6> args) {
  SyscallEvent ev;
  ev.nr = nr;
  ev.arch = AUDIT_ARCH_X86_64;
  ev.args = args;
  return ev;
}

std::vector<std::string> Texts(const std::vector<DecodedArg>& args) {
  std::vector<std::string> out;
  for (const DecodedArg& a : args) {
    out.push_back(a.text);
  }
  return out;
}

constexpr uint64_t kBadAddress = 0x7ffd1234;

uint64_t U(int64_t v) { return static_cast<uint64_t>(v); }

// --- Syscall table ---

TEST(SyscallTableTest, NamesAndNumbersRoundTrip) {
  EXPECT_EQ(SyscallName(SCMP_SYS(openat)), "openat");
  EXPECT_EQ(SyscallNumber("openat"), SCMP_SYS(openat));
  EXPECT_EQ(SyscallName(SCMP_SYS(getppid)), "getppid");
  EXPECT_EQ(SyscallNumber("getppid"), SCMP_SYS(getppid));
  for (int nr : AllSyscalls().Numbers()) {
    EXPECT_EQ(SyscallNumber(SyscallName(nr)), nr) << SyscallName(nr);
  }
}

TEST(SyscallTableTest, UnknownNumbersHaveStableFallbackNames) {
  EXPECT_EQ(SyscallName(1000), "syscall_1000");
  EXPECT_EQ(SyscallName(1000).data(), SyscallName(1000).data());
  EXPECT_EQ(SyscallName(-1), "syscall_-1");
  EXPECT_EQ(SyscallName(-1).data(), SyscallName(-1).data());
  EXPECT_EQ(SyscallName(0x40000000), "syscall_1073741824");
}

TEST(SyscallTableTest, RejectsNamesOfOtherArches) {
  EXPECT_EQ(SyscallNumber("nosuchcall"), std::nullopt);
  EXPECT_EQ(SyscallNumber(""), std::nullopt);
  EXPECT_EQ(SyscallNumber(std::string_view("open\0at", 7)), std::nullopt);
  // i386-only calls, for which libseccomp returns negative pseudo-numbers on x86_64.
  EXPECT_EQ(SyscallNumber("socketcall"), std::nullopt);
  EXPECT_EQ(SyscallNumber("waitpid"), std::nullopt);
}

TEST(SyscallTableTest, AllSyscallsHoldsTheNativeTable) {
  SyscallSet all = AllSyscalls();
  EXPECT_TRUE(all.Contains(SCMP_SYS(read)));
  EXPECT_TRUE(all.Contains(SCMP_SYS(openat)));
  EXPECT_TRUE(all.Contains(SCMP_SYS(clone3)));
  EXPECT_FALSE(all.Contains(1000));
  EXPECT_GT(all.size(), 300u);
}

TEST(SyscallTableTest, EveryClassResolvesWithAReason) {
  ASSERT_FALSE(Classes().empty());
  for (const SyscallClass& c : Classes()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(c.name.starts_with("%"));
    EXPECT_FALSE(c.reason.empty());
    Result<SyscallSet> set = ResolveSyscallSpec(c.name);
    ASSERT_TRUE(set.has_value()) << set.error().message;
    EXPECT_FALSE(set->empty());
    // Every member the native arch knows made it into the set.
    for (std::string_view member : c.members) {
      if (std::optional<int> nr = SyscallNumber(member)) {
        EXPECT_TRUE(set->Contains(*nr)) << member;
      }
    }
  }
}

TEST(SyscallTableTest, ClassMembership) {
  SyscallSet file = ResolveSyscallSpec("%file").value();
  EXPECT_TRUE(file.Contains(SCMP_SYS(openat)));
  EXPECT_TRUE(file.Contains(SCMP_SYS(execve)));
  EXPECT_FALSE(file.Contains(SCMP_SYS(read)));

  SyscallSet desc = ResolveSyscallSpec("%desc").value();
  EXPECT_TRUE(desc.Contains(SCMP_SYS(read)));
  EXPECT_TRUE(desc.Contains(SCMP_SYS(openat)));
  EXPECT_FALSE(desc.Contains(SCMP_SYS(socket)));  // strace puts socket calls in %net only

  SyscallSet net = ResolveSyscallSpec("%net").value();
  EXPECT_TRUE(net.Contains(SCMP_SYS(connect)));
  EXPECT_EQ(ResolveSyscallSpec("%network").value(), net);

  EXPECT_TRUE(ResolveSyscallSpec("%process").value().Contains(SCMP_SYS(clone3)));
  EXPECT_TRUE(ResolveSyscallSpec("%signal").value().Contains(SCMP_SYS(rt_sigaction)));
  EXPECT_TRUE(ResolveSyscallSpec("%memory").value().Contains(SCMP_SYS(mmap)));
  EXPECT_TRUE(ResolveSyscallSpec("%ipc").value().Contains(SCMP_SYS(shmget)));
}

TEST(SyscallTableTest, ResolvesNamesAndAll) {
  SyscallSet one = ResolveSyscallSpec("getppid").value();
  EXPECT_EQ(one.Numbers(), std::vector<int>{SCMP_SYS(getppid)});
  EXPECT_EQ(ResolveSyscallSpec("all").value(), AllSyscalls());
  EXPECT_EQ(ResolveSyscallSpec("%all").value(), AllSyscalls());
}

TEST(SyscallTableTest, UnknownNameSuggestsTheClosest) {
  Result<SyscallSet> set = ResolveSyscallSpec("opne");
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().code, 0);
  EXPECT_THAT(set.error().message, HasSubstr("unknown syscall \"opne\""));
  EXPECT_THAT(set.error().message, HasSubstr("did you mean \"open\"?"));

  Result<SyscallSet> far = ResolveSyscallSpec("qqqqqqqqqq");
  ASSERT_FALSE(far.has_value());
  EXPECT_EQ(far.error().message, "unknown syscall \"qqqqqqqqqq\"");

  EXPECT_FALSE(ResolveSyscallSpec("").has_value());
}

TEST(SyscallTableTest, UnknownClassListsTheKnownOnes) {
  Result<SyscallSet> set = ResolveSyscallSpec("%fiel");
  ASSERT_FALSE(set.has_value());
  EXPECT_THAT(set.error().message,
              HasSubstr("unknown syscall class \"%fiel\" (known: %file, %net, "));
  EXPECT_THAT(set.error().message, HasSubstr("did you mean \"%file\"?"));
}

// --- Argument decoding ---

TEST(ArgDecoderTest, Openat) {
  FakeGuestMemory mem;
  uint64_t path = mem.PutString("/etc/hostname");
  auto args = DecodeArguments(
      Call(SCMP_SYS(openat), {U(AT_FDCWD), path, O_RDONLY | O_CLOEXEC, 0, 0, 0}), mem);
  EXPECT_THAT(Texts(args), ElementsAre("AT_FDCWD", "\"/etc/hostname\"", "O_RDONLY|O_CLOEXEC"));
  EXPECT_EQ(args[0].json, "AT_FDCWD");
  EXPECT_EQ(args[1].json, "/etc/hostname");
  EXPECT_EQ(args[2].json, "O_RDONLY|O_CLOEXEC");
}

// A call without arguments shows none, whatever its registers held (strace: "getpgrp() = 1").
TEST(ArgDecoderTest, CallsWithoutArgumentsShowNone) {
  FakeGuestMemory mem;
  for (int nr : {SCMP_SYS(getpgrp), SCMP_SYS(getpid), SCMP_SYS(setsid), SCMP_SYS(sched_yield),
                 SCMP_SYS(getuid), SCMP_SYS(pause)}) {
    EXPECT_THAT(DecodeArguments(Call(nr, {0x7ffd1234, 5, 6, 7, 8, 9}), mem), IsEmpty()) << nr;
  }
}

TEST(ArgDecoderTest, OpenatShowsTheModeOnlyWhenCreating) {
  FakeGuestMemory mem;
  uint64_t path = mem.PutString("out.txt");
  auto args = DecodeArguments(
      Call(SCMP_SYS(openat), {3, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, 0, 0}), mem);
  EXPECT_THAT(Texts(args), ElementsAre("3", "\"out.txt\"", "O_WRONLY|O_CREAT|O_TRUNC", "0644"));
  EXPECT_EQ(args[0].json, 3);
  EXPECT_EQ(args[3].json, "0644");

  args = DecodeArguments(
      Call(SCMP_SYS(openat), {3, path, O_RDWR | O_TMPFILE | 0x40000000, 0600, 0, 0}), mem);
  EXPECT_THAT(Texts(args), ElementsAre("3", "\"out.txt\"", "O_RDWR|O_TMPFILE|0x40000000", "0600"));
}

TEST(ArgDecoderTest, AccessModesAndAtFlags) {
  FakeGuestMemory mem;
  uint64_t path = mem.PutString("/tmp");
  EXPECT_THAT(Texts(DecodeArguments(Call(SCMP_SYS(access), {path, R_OK | W_OK}), mem)),
              ElementsAre("\"/tmp\"", "R_OK|W_OK"));
  EXPECT_THAT(Texts(DecodeArguments(Call(SCMP_SYS(faccessat2), {3, path, F_OK, 0x200}), mem)),
              ElementsAre("3", "\"/tmp\"", "F_OK", "AT_EACCESS"));
  EXPECT_THAT(Texts(DecodeArguments(Call(SCMP_SYS(unlinkat), {U(AT_FDCWD), path, 0x200}), mem)),
              ElementsAre("AT_FDCWD", "\"/tmp\"", "AT_REMOVEDIR"));
}

TEST(ArgDecoderTest, ConnectInet) {
  FakeGuestMemory mem;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(80);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint64_t addr = mem.PutObject(sin);
  auto args = DecodeArguments(Call(SCMP_SYS(connect), {3, addr, sizeof(sin)}), mem);
  EXPECT_THAT(Texts(args), ElementsAre("3", "{AF_INET, 127.0.0.1:80}", "16"));
  EXPECT_EQ(args[1].json, (json{{"family", "AF_INET"}, {"addr", "127.0.0.1"}, {"port", 80}}));
}

TEST(ArgDecoderTest, ConnectInet6) {
  FakeGuestMemory mem;
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(443);
  sin6.sin6_addr = in6addr_loopback;
  uint64_t addr = mem.PutObject(sin6);
  auto args = DecodeArguments(Call(SCMP_SYS(connect), {3, addr, sizeof(sin6)}), mem);
  EXPECT_EQ(args[1].text, "{AF_INET6, [::1]:443}");
  EXPECT_EQ(args[1].json, (json{{"family", "AF_INET6"}, {"addr", "::1"}, {"port", 443}}));
}

TEST(ArgDecoderTest, ConnectUnixPathAbstractAndUnnamed) {
  FakeGuestMemory mem;
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  strcpy(sun.sun_path, "/run/x.sock");
  size_t len = offsetof(sockaddr_un, sun_path) + strlen(sun.sun_path) + 1;
  auto args = DecodeArguments(Call(SCMP_SYS(connect), {3, mem.PutObject(sun), len}), mem);
  EXPECT_EQ(args[1].text, "{AF_UNIX, \"/run/x.sock\"}");
  EXPECT_EQ(args[1].json, (json{{"family", "AF_UNIX"}, {"path", "/run/x.sock"}}));

  sockaddr_un abstract{};
  abstract.sun_family = AF_UNIX;
  memcpy(abstract.sun_path, "\0name", 5);
  len = offsetof(sockaddr_un, sun_path) + 5;
  args = DecodeArguments(Call(SCMP_SYS(bind), {3, mem.PutObject(abstract), len}), mem);
  EXPECT_EQ(args[1].text, "{AF_UNIX, @\"name\"}");
  EXPECT_EQ(args[1].json, (json{{"family", "AF_UNIX"}, {"path", "@name"}}));

  sa_family_t unnamed = AF_UNIX;
  args = DecodeArguments(Call(SCMP_SYS(bind), {3, mem.PutObject(unnamed), sizeof(unnamed)}), mem);
  EXPECT_EQ(args[1].text, "{AF_UNIX}");
}

TEST(ArgDecoderTest, OtherFamiliesByName) {
  FakeGuestMemory mem;
  sockaddr_storage ss{};
  ss.ss_family = AF_NETLINK;
  auto args = DecodeArguments(Call(SCMP_SYS(bind), {3, mem.PutObject(ss, 12), 12}), mem);
  EXPECT_EQ(args[1].text, "{AF_NETLINK}");
  EXPECT_EQ(args[1].json, (json{{"family", "AF_NETLINK"}}));
}

TEST(ArgDecoderTest, SendtoShowsDataAndDestination) {
  FakeGuestMemory mem;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(53);
  inet_pton(AF_INET, "10.0.0.1", &sin.sin_addr);
  uint64_t buf = mem.Put("hi\n");
  auto args = DecodeArguments(
      Call(SCMP_SYS(sendto), {4, buf, 3, MSG_DONTWAIT, mem.PutObject(sin), sizeof(sin)}), mem);
  EXPECT_THAT(Texts(args),
              ElementsAre("4", "\"hi\\n\"", "3", "MSG_DONTWAIT", "{AF_INET, 10.0.0.1:53}", "16"));
}

TEST(ArgDecoderTest, ExecveArgv) {
  FakeGuestMemory mem;
  uint64_t path = mem.PutString("/bin/ls");
  uint64_t argv = mem.PutPointers({mem.PutString("ls"), mem.PutString("-l"), 0});
  auto args = DecodeArguments(Call(SCMP_SYS(execve), {path, argv, 0}), mem);
  EXPECT_THAT(Texts(args), ElementsAre("\"/bin/ls\"", "[\"ls\", \"-l\"]", "NULL"));
  EXPECT_EQ(args[1].json, (json{"ls", "-l"}));
  EXPECT_EQ(args[2].json, nullptr);
}

TEST(ArgDecoderTest, ExecveEnvironmentIsCounted) {
  FakeGuestMemory mem;
  std::vector<uint64_t> env(100, mem.PutString("A=b"));
  env.push_back(0);
  uint64_t envp = mem.PutPointers(env);
  auto args = DecodeArguments(Call(SCMP_SYS(execve), {mem.PutString("/bin/true"), 0, envp}), mem);
  EXPECT_EQ(args[2].text, fmt::format("{:#x} /* 100 vars */", envp));
  EXPECT_EQ(args[2].json, (json{{"vars", 100}}));
}

TEST(ArgDecoderTest, ExecveShowsAtMost32Entries) {
  FakeGuestMemory mem;
  std::vector<uint64_t> ptrs(40, mem.PutString("x"));
  ptrs.push_back(0);
  auto args = DecodeArguments(Call(SCMP_SYS(execve), {mem.PutString("/bin/true"),
                                                      mem.PutPointers(ptrs), mem.PutPointers({0})}),
                              mem);
  EXPECT_THAT(args[1].text, ::testing::EndsWith("\"x\", ...]"));
  ASSERT_EQ(args[1].json.size(), 33u);
  EXPECT_EQ(args[1].json.back(), "...");
  EXPECT_THAT(args[2].text, ::testing::EndsWith(" /* 0 vars */"));
  EXPECT_EQ(args[2].json, (json{{"vars", 0}}));

  // Exactly 32 entries need no "...".
  ptrs.resize(32);
  ptrs.push_back(0);
  args = DecodeArguments(Call(SCMP_SYS(execve), {0, mem.PutPointers(ptrs), 0}), mem);
  EXPECT_EQ(args[1].json.size(), 32u);
  EXPECT_THAT(args[1].text, Not(HasSubstr("...")));
}

TEST(ArgDecoderTest, BadPointersAreShownNotFollowed) {
  FakeGuestMemory mem;
  const json failed = {{"ptr", "0x7ffd1234"}, {"error", "EFAULT"}};
  auto args =
      DecodeArguments(Call(SCMP_SYS(openat), {U(AT_FDCWD), kBadAddress, O_RDONLY, 0, 0, 0}), mem);
  EXPECT_EQ(args[1].text, "0x7ffd1234");
  EXPECT_EQ(args[1].json, failed);

  args = DecodeArguments(Call(SCMP_SYS(connect), {3, kBadAddress, 16}), mem);
  EXPECT_EQ(args[1].text, "0x7ffd1234");
  EXPECT_EQ(args[1].json, failed);

  // A readable argv with one unreadable entry.
  uint64_t argv = mem.PutPointers({mem.PutString("sh"), kBadAddress, 0});
  args = DecodeArguments(Call(SCMP_SYS(execve), {kBadAddress, argv, kBadAddress}), mem);
  EXPECT_THAT(Texts(args), ElementsAre("0x7ffd1234", "[\"sh\", 0x7ffd1234]", "0x7ffd1234"));
  EXPECT_EQ(args[2].json, failed);
  EXPECT_EQ(args[1].json, (json{"sh", failed}));

  // An argv that runs into unreadable memory before its NULL.
  args =
      DecodeArguments(Call(SCMP_SYS(execve), {0, mem.PutPointers({mem.PutString("a")}), 0}), mem);
  EXPECT_EQ(args[1].text, "[\"a\", ...]");
}

TEST(ArgDecoderTest, LongAndUnprintableStrings) {
  FakeGuestMemory mem;
  std::string long_path(300, 'a');
  auto args = DecodeArguments(Call(SCMP_SYS(unlink), {mem.PutString(long_path)}), mem);
  EXPECT_EQ(args[0].text, "\"" + std::string(256, 'a') + "\"...");
  EXPECT_EQ(args[0].json, long_path);

  std::string unprintable = std::string("a\tb\"\\\x01z\x01") + "7";  // octal digit after \x01
  args = DecodeArguments(Call(SCMP_SYS(unlink), {mem.PutString(unprintable)}), mem);
  EXPECT_EQ(args[0].text, R"("a\tb\"\\\1z\0017")");

  // Invalid UTF-8 reaches JSON escaped, so serializing it cannot throw.
  args = DecodeArguments(Call(SCMP_SYS(unlink), {mem.PutString("\xff\xfe")}), mem);
  EXPECT_EQ(args[0].json, "\\377\\376");
  EXPECT_NO_THROW((void)args[0].json.dump());
  args = DecodeArguments(Call(SCMP_SYS(unlink), {mem.PutString("caf\xc3\xa9")}), mem);
  EXPECT_EQ(args[0].json, "caf\xc3\xa9");
}

TEST(ArgDecoderTest, MemoryProcessAndSignalCalls) {
  FakeGuestMemory mem;
  EXPECT_THAT(
      Texts(DecodeArguments(Call(SCMP_SYS(mmap), {0, 8192, PROT_READ | PROT_WRITE,
                                                  MAP_PRIVATE | MAP_ANONYMOUS, U(-1), 0}),
                            mem)),
      ElementsAre("NULL", "8192", "PROT_READ|PROT_WRITE", "MAP_PRIVATE|MAP_ANONYMOUS", "-1", "0"));
  EXPECT_THAT(Texts(DecodeArguments(Call(SCMP_SYS(mprotect), {0x1000, 4096, PROT_NONE}), mem)),
              ElementsAre("0x1000", "4096", "PROT_NONE"));
  constexpr uint64_t kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                    CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  EXPECT_EQ(DecodeArguments(Call(SCMP_SYS(clone), {kThreadFlags, 0, 0, 0, 0}), mem)[0].text,
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|"
            "CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID");
  EXPECT_EQ(DecodeArguments(Call(SCMP_SYS(clone), {CLONE_CHILD_SETTID | SIGCHLD}), mem)[0].text,
            "CLONE_CHILD_SETTID|SIGCHLD");
  auto kill = DecodeArguments(Call(SCMP_SYS(kill), {U(-1), SIGTERM}), mem);
  EXPECT_THAT(Texts(kill), ElementsAre("-1", "SIGTERM"));
  EXPECT_EQ(kill[0].json, -1);
  EXPECT_EQ(kill[1].json, "SIGTERM");
  EXPECT_EQ(DecodeArguments(Call(SCMP_SYS(kill), {1, 33}), mem)[1].text, "SIGRT_1");
  EXPECT_TRUE(DecodeArguments(Call(SCMP_SYS(getppid), {}), mem).empty());
}

TEST(ArgDecoderTest, SocketsAndDescriptors) {
  FakeGuestMemory mem;
  auto socket = DecodeArguments(
      Call(SCMP_SYS(socket), {AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0}), mem);
  EXPECT_THAT(Texts(socket),
              ElementsAre("AF_INET6", "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC", "0"));
  EXPECT_EQ(socket[0].json, "AF_INET6");
  EXPECT_THAT(Texts(DecodeArguments(Call(SCMP_SYS(pipe2), {0x1000, O_CLOEXEC}), mem)),
              ElementsAre("0x1000", "O_CLOEXEC"));
  EXPECT_THAT(Texts(DecodeArguments(Call(SCMP_SYS(lseek), {3, U(-10), SEEK_END}), mem)),
              ElementsAre("3", "-10", "SEEK_END"));
  EXPECT_THAT(Texts(DecodeArguments(Call(SCMP_SYS(fcntl), {3, F_SETFD, FD_CLOEXEC}), mem)),
              ElementsAre("3", "F_SETFD", "0x1"));
}

TEST(ArgDecoderTest, UnknownCallsAndOtherArchesGetSixHexArgs) {
  FakeGuestMemory mem;
  auto args = DecodeArguments(Call(SCMP_SYS(getrandom), {0x1000, 16, 0, 0, 0, 0}), mem);
  EXPECT_THAT(Texts(args), ElementsAre("0x1000", "0x10", "0", "0", "0", "0"));
  EXPECT_EQ(args[0].json, "0x1000");

  SyscallEvent i386 = Call(5, {0x1000, 0, 0, 0, 0, 0});  // open on i386, fstat on x86_64
  i386.arch = AUDIT_ARCH_I386;
  EXPECT_EQ(DecodeArguments(i386, mem).size(), 6u);
  EXPECT_EQ(DecodeArguments(Call(-1, {}), mem).size(), 6u);
}

// --- Results and errno names ---

TEST(ResultTest, FormatResult) {
  EXPECT_EQ(FormatResult(SCMP_SYS(openat), std::nullopt), "?");
  EXPECT_EQ(FormatResult(SCMP_SYS(openat), -ENOENT), "-1 ENOENT (No such file or directory)");
  EXPECT_EQ(FormatResult(SCMP_SYS(openat), 3), "3");
  EXPECT_EQ(FormatResult(SCMP_SYS(read), 0), "0");
  EXPECT_EQ(FormatResult(SCMP_SYS(mmap), 0x7f1234560000), "0x7f1234560000");
  EXPECT_EQ(FormatResult(SCMP_SYS(mmap), -ENOMEM), "-1 ENOMEM (Cannot allocate memory)");
  EXPECT_EQ(FormatResult(SCMP_SYS(brk), 0x55550000), "0x55550000");
  EXPECT_EQ(FormatResult(SCMP_SYS(lseek), -4096), "-4096");  // outside the error range
  EXPECT_EQ(FormatResult(SCMP_SYS(read), -512), "-1 ERESTARTSYS");
}

TEST(ResultTest, ResultJson) {
  EXPECT_EQ(ResultJson(3), (json{{"ret", 3}}));
  EXPECT_EQ(ResultJson(-ENOENT), (json{{"ret", -1}, {"errno", "ENOENT"}}));
  EXPECT_EQ(ResultJson(std::nullopt), (json{{"ret", nullptr}}));
}

TEST(ErrnoTest, Names) {
  EXPECT_EQ(ErrnoName(13), "EACCES");
  EXPECT_EQ(ErrnoName(EAGAIN), "EAGAIN");
  EXPECT_EQ(ErrnoName(99999), "99999");
  EXPECT_EQ(ErrnoFromName("EIO"), 5);
  EXPECT_EQ(ErrnoFromName("EACCES"), EACCES);
  EXPECT_EQ(ErrnoFromName("EWOULDBLOCK"), EAGAIN);
  EXPECT_EQ(ErrnoFromName("ERESTARTSYS"), 512);
  EXPECT_EQ(ErrnoFromName("ENOPE"), 0);
  EXPECT_EQ(ErrnoFromName(""), 0);
  for (int err = 1; err < 134; ++err) {
    std::string name = ErrnoName(err);
    if (name.starts_with("E")) {  // Linux leaves a few numbers (41, 58) unassigned
      EXPECT_EQ(ErrnoFromName(name), err) << name;
    }
  }
}

TEST(ErrnoTest, ErrnoErrorSaysWhatFailed) {
  std::unexpected<Error> e = ErrnoError(EACCES, "openat /etc/x in guest 3");
  EXPECT_EQ(e.error().code, EACCES);
  EXPECT_EQ(e.error().message, "openat /etc/x in guest 3: EACCES (Permission denied)");
  EXPECT_EQ(ErrnoError(EIO, "").error().message, "EIO (Input/output error)");
}

}  // namespace
}  // namespace hijack::syscalls
