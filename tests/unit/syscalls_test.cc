// Tests of hijack_syscalls: the native syscall table and classes, the argument layout table and
// its extractors, socket addresses, the argument decoder, result formatting and the errno names
// of include/hijack/result.h.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "daemon/syscalls/arg_decoder.h"
#include "daemon/syscalls/sockaddr.h"
#include "daemon/syscalls/syscall_args.h"
#include "daemon/syscalls/syscall_table.h"
#include "hijack/result.h"
#include "tests/support/fake_guest_memory.h"

namespace hijack::syscalls {
namespace {

using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
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

// Calls newer than libseccomp 2.5.4 that fs_guard judges by number have their names both ways
// (traces, messages, policies), and stay out of AllSyscalls() until libseccomp knows them.
TEST(SyscallTableTest, CallsNewerThanLibseccompHaveNames) {
  for (const auto& [nr, name] : {std::pair{452, "fchmodat2"}, std::pair{463, "setxattrat"},
                                 std::pair{466, "removexattrat"}, std::pair{469, "file_setattr"}}) {
    EXPECT_EQ(SyscallName(nr), name);
    EXPECT_EQ(SyscallNumber(name), nr);
  }
  EXPECT_EQ(kNrFchmodat2, 452);
  EXPECT_EQ(SyscallNumber("fchmodat2"), kNrFchmodat2);
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

// Counts what the decoder asks the guest's memory for, and the largest single read.
class CountingMemory final : public GuestMemory {
 public:
  explicit CountingMemory(FakeGuestMemory& inner) : inner_(inner) {}
  Result<size_t> Read(uint64_t addr, std::span<std::byte> out) override {
    asked += out.size();
    largest = std::max(largest, out.size());
    return inner_.Read(addr, out);
  }
  Result<std::string> ReadString(uint64_t addr, size_t max) override {
    return inner_.ReadString(addr, max);
  }
  size_t asked = 0;
  size_t largest = 0;

 private:
  FakeGuestMemory& inner_;
};

TEST(ArgDecoderTest, BuffersShowWhatTheLimitsAskAndReadNoMore) {
  FakeGuestMemory fake;
  const std::string data(1000, 'x');
  const uint64_t buf = fake.Put(data);
  CountingMemory mem(fake);
  // The default: 256 bytes, then "...".
  auto args = DecodeArguments(Call(SCMP_SYS(write), {1, buf, 1000}), mem);
  EXPECT_EQ(args[1].text, "\"" + std::string(256, 'x') + "\"...");
  EXPECT_EQ(mem.asked, 256u);
  // Asked for 600: 600 of the 1000, read and shown.
  mem.asked = 0;
  args = DecodeArguments(Call(SCMP_SYS(write), {1, buf, 1000}), mem, {.shown_bytes = 600});
  EXPECT_EQ(args[1].text, "\"" + std::string(600, 'x') + "\"...");
  EXPECT_EQ(args[1].json, std::string(600, 'x'));
  EXPECT_EQ(mem.asked, 600u);
  // Asked for more than the call's count: only the count is read, and there is no "...".
  mem.asked = 0;
  args = DecodeArguments(Call(SCMP_SYS(write), {1, buf, 1000}), mem, {.shown_bytes = 2000});
  EXPECT_EQ(args[1].text, "\"" + data + "\"");
  EXPECT_EQ(mem.asked, 1000u);
  // A small write under a huge limit reads its few bytes, not the limit.
  mem.asked = 0;
  args = DecodeArguments(Call(SCMP_SYS(write), {1, buf, 5}), mem, {.shown_bytes = 1u << 30});
  EXPECT_EQ(args[1].text, "\"xxxxx\"");
  EXPECT_EQ(mem.asked, 5u);
  // A huge write under a huge limit: at most kMaxShownBytes, read in bounded pieces.
  const std::string big(kMaxShownBytes + 10, 'y');
  const uint64_t big_buf = fake.Put(big);
  mem.asked = 0;
  args = DecodeArguments(Call(SCMP_SYS(write), {1, big_buf, big.size()}), mem,
                         {.shown_bytes = 1u << 30});
  EXPECT_EQ(args[1].text, "\"" + std::string(kMaxShownBytes, 'y') + "\"...");
  EXPECT_EQ(mem.asked, kMaxShownBytes);
  EXPECT_LE(mem.largest, 64u * 1024);
  // A buffer that runs into unreadable memory shows what was read, then "...".
  args = DecodeArguments(Call(SCMP_SYS(write), {1, buf, 5000}), mem, {.shown_bytes = 5000});
  EXPECT_EQ(args[1].text, "\"" + data + "\"...");
  // Read buffers, at the call's return: the bytes the call returned, up to the limit.
  args = DecodeArguments(Call(SCMP_SYS(read), {0, buf, 4096}), mem);
  ASSERT_TRUE(DecodeReturned(Call(SCMP_SYS(read), {0, buf, 4096}), 1000, mem, args,
                             {.shown_bytes = 700}));
  EXPECT_EQ(args[1].text, "\"" + std::string(700, 'x') + "\"...");
  // Paths longer than the default are whole when the limit allows.
  const std::string long_path(300, 'a');
  args = DecodeArguments(Call(SCMP_SYS(unlink), {fake.PutString(long_path)}), mem,
                         {.shown_bytes = 400});
  EXPECT_EQ(args[0].text, "\"" + long_path + "\"");
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
              ElementsAre("AF_INET6", "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC", "IPPROTO_IP"));
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

// --- Argument layout table and extractors ---

// The table against libseccomp: every layout is of a native call, listed once, and well formed.
TEST(SyscallArgsTest, EveryLayoutIsANativeCallListedOnceAndWellFormed) {
  std::set<int> seen;
  for (const CallLayout& call : Layouts()) {
    std::string_view name = SyscallName(call.nr);
    SCOPED_TRACE(name);
    EXPECT_EQ(SyscallNumber(name), call.nr);
    EXPECT_TRUE(seen.insert(call.nr).second) << "listed twice";
    EXPECT_EQ(FindLayout(call.nr), &call);
    size_t paths = 0;
    bool ended = false;
    for (size_t i = 0; i < call.args.size(); ++i) {
      const ArgKind k = call.args[i];
      const ArgKind next = i + 1 < call.args.size() ? call.args[i + 1] : ArgKind::kNone;
      EXPECT_FALSE(ended && k != ArgKind::kNone) << "argument " << i << " after the last";
      ended = ended || k == ArgKind::kNone;
      paths += k == ArgKind::kPath;
      if (k == ArgKind::kDirFd) {
        EXPECT_EQ(next, ArgKind::kPath) << "a dirfd qualifies the path after it";
      }
      if (k == ArgKind::kSockaddr || k == ArgKind::kBuffer || k == ArgKind::kOpenHow ||
          k == ArgKind::kMmsghdrs) {
        EXPECT_NE(next, ArgKind::kNone) << "argument " << i << " takes its length from the next";
      }
      if (k == ArgKind::kOpenMode) {
        ASSERT_GT(i, 0u);
        EXPECT_EQ(call.args[i - 1], ArgKind::kOpenFlags);
      }
    }
    ASSERT_LE(paths, std::size(call.paths));
    for (size_t i = 0; i < std::size(call.paths); ++i) {
      if (i < paths) {
        // Every path says what the call does with it, except symlink's stored target.
        const bool is_target =
            i == 0 && (call.nr == SCMP_SYS(symlink) || call.nr == SCMP_SYS(symlinkat));
        EXPECT_EQ(call.paths[i].access == kAccessNone, is_target) << "path " << i;
      } else {
        EXPECT_EQ(call.paths[i].access, kAccessNone) << "a use for a path the call lacks";
      }
    }
  }
  EXPECT_EQ(FindLayout(-1), nullptr);
  EXPECT_EQ(FindLayout(SyscallSet::kCapacity), nullptr);
  EXPECT_EQ(FindLayout(SCMP_SYS(getcwd)), nullptr);
}

// Every call with a path argument: PathArgs finds each one at its index, with the dirfd before it.
TEST(SyscallArgsTest, EveryPathArgumentResolvesToItsIndexAndDirfd) {
  for (const CallLayout& call : Layouts()) {
    SCOPED_TRACE(SyscallName(call.nr));
    SyscallEvent ev = Call(call.nr, {0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1005});
    PathArgList paths = PathArgs(ev);
    size_t n = 0;
    for (size_t i = 0; i < call.args.size(); ++i) {
      if (call.args[i] != ArgKind::kPath) {
        continue;
      }
      ASSERT_LT(n, paths.size());
      EXPECT_EQ(paths[n].index, i);
      EXPECT_EQ(paths[n].addr, ev.args[i]);
      const bool qualified = i > 0 && call.args[i - 1] == ArgKind::kDirFd;
      EXPECT_EQ(paths[n].dirfd, qualified ? static_cast<int>(0x1000 + i - 1) : AT_FDCWD);
      ++n;
    }
    EXPECT_EQ(paths.size(), n);
  }
}

TEST(SyscallArgsTest, PathsOfTheCallsPoliciesCheck) {
  struct Expected {
    int nr;
    std::vector<std::pair<size_t, int>> paths;  // index, dirfd argument (-1: AT_FDCWD)
    std::vector<uint8_t> access;
  };
  const Expected cases[] = {
      {SCMP_SYS(open), {{0, -1}}, {kAccessRead}},
      {SCMP_SYS(openat), {{1, 0}}, {kAccessRead}},
      {SCMP_SYS(creat), {{0, -1}}, {kAccessWrite | kAccessCreate}},
      {SCMP_SYS(execve), {{0, -1}}, {kAccessExec}},
      {SCMP_SYS(execveat), {{1, 0}}, {kAccessExec}},
      {SCMP_SYS(truncate), {{0, -1}}, {kAccessWrite}},
      {SCMP_SYS(unlinkat), {{1, 0}}, {kAccessUnlink}},
      {SCMP_SYS(rmdir), {{0, -1}}, {kAccessUnlink}},
      {SCMP_SYS(mknodat), {{1, 0}}, {kAccessCreate}},
      {SCMP_SYS(rename), {{0, -1}, {1, -1}}, {kAccessUnlink, kAccessCreate}},
      {SCMP_SYS(renameat2), {{1, 0}, {3, 2}}, {kAccessUnlink, kAccessCreate}},
      {SCMP_SYS(link), {{0, -1}, {1, -1}}, {kAccessMetadata, kAccessCreate}},
      {SCMP_SYS(linkat), {{1, 0}, {3, 2}}, {kAccessMetadata, kAccessCreate}},
      {SCMP_SYS(symlink), {{0, -1}, {1, -1}}, {kAccessNone, kAccessCreate}},
      {SCMP_SYS(symlinkat), {{0, -1}, {2, 1}}, {kAccessNone, kAccessCreate}},
      {SCMP_SYS(newfstatat), {{1, 0}}, {kAccessMetadata}},
  };
  for (const Expected& c : cases) {
    SCOPED_TRACE(SyscallName(c.nr));
    SyscallEvent ev = Call(c.nr, {3, 0x2000, 4, 0x3000, 0, 0});
    PathArgList paths = PathArgs(ev);
    ASSERT_EQ(paths.size(), c.paths.size());
    for (size_t i = 0; i < paths.size(); ++i) {
      EXPECT_EQ(paths[i].index, c.paths[i].first);
      const int dirfd_index = c.paths[i].second;
      EXPECT_EQ(paths[i].dirfd,
                dirfd_index < 0 ? AT_FDCWD : static_cast<int>(ev.args[dirfd_index]));
      EXPECT_EQ(paths[i].access, c.access[i]);
    }
  }
  // The first path a call acts on: symlink's target is a string it stores, not a file.
  EXPECT_EQ(PrimaryPath(Call(SCMP_SYS(symlinkat), {0x10, 3, 0x20, 0, 0, 0}))->index, 2u);
  EXPECT_EQ(PrimaryPath(Call(SCMP_SYS(rename), {0x10, 0x20, 0, 0, 0, 0}))->index, 0u);
  EXPECT_FALSE(PrimaryPath(Call(SCMP_SYS(read), {3, 0, 0, 0, 0, 0})));
  // Other arches have no layout here: their numbers mean other calls.
  SyscallEvent i386 = Call(SCMP_SYS(open), {0x10, 0, 0, 0, 0, 0});
  i386.arch = AUDIT_ARCH_I386;
  EXPECT_TRUE(PathArgs(i386).empty());
  EXPECT_FALSE(FdArg(i386));
}

TEST(SyscallArgsTest, FollowAndEmptyPathComeFromTheFlags) {
  const uint64_t nofollow = 0x100, follow = 0x400, empty = 0x1000;
  EXPECT_TRUE(PathArgs(Call(SCMP_SYS(execveat), {3, 0x10, 0, 0, 0, 0}))[0].follow);
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(execveat), {3, 0x10, 0, 0, nofollow, 0}))[0].follow);
  EXPECT_TRUE(PathArgs(Call(SCMP_SYS(execveat), {3, 0x10, 0, 0, empty, 0}))[0].empty_path);
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(execve), {0x10, 0, 0, 0, 0, 0}))[0].empty_path);
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(lstat), {0x10, 0, 0, 0, 0, 0}))[0].follow);
  EXPECT_TRUE(PathArgs(Call(SCMP_SYS(stat), {0x10, 0, 0, 0, 0, 0}))[0].follow);
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(unlink), {0x10, 0, 0, 0, 0, 0}))[0].follow);
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(linkat), {3, 0x10, 4, 0x20, 0, 0}))[0].follow);
  EXPECT_TRUE(PathArgs(Call(SCMP_SYS(linkat), {3, 0x10, 4, 0x20, follow, 0}))[0].follow);
  // AT_EMPTY_PATH speaks of the first path only (linkat's old name).
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(linkat), {3, 0x10, 4, 0x20, empty, 0}))[1].empty_path);
  EXPECT_TRUE(PathArgs(Call(SCMP_SYS(openat), {3, 0x10, O_RDONLY, 0, 0, 0}))[0].follow);
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(openat), {3, 0x10, O_NOFOLLOW, 0, 0, 0}))[0].follow);
  EXPECT_FALSE(PathArgs(Call(SCMP_SYS(openat), {3, 0x10, O_CREAT | O_EXCL, 0600, 0, 0}))[0].follow);
}

TEST(SyscallArgsTest, OpenArgsAndAccessFromTheFlags) {
  FakeGuestMemory mem;
  EXPECT_EQ(OpenAccess(O_RDONLY), kAccessRead);
  EXPECT_EQ(OpenAccess(O_WRONLY), kAccessWrite);
  EXPECT_EQ(OpenAccess(O_RDWR), kAccessRead | kAccessWrite);
  EXPECT_EQ(OpenAccess(O_RDONLY | O_TRUNC), kAccessRead | kAccessWrite);
  EXPECT_EQ(OpenAccess(O_TMPFILE | O_WRONLY), kAccessWrite | kAccessCreate);
  EXPECT_EQ(CallAccess(Call(SCMP_SYS(openat), {3, 0x10, O_WRONLY, 0, 0, 0})), kAccessWrite);
  EXPECT_EQ(CallAccess(Call(SCMP_SYS(renameat), {3, 0x10, 4, 0x20, 0, 0})),
            kAccessUnlink | kAccessCreate);

  auto o = OpenArgsOf(Call(SCMP_SYS(openat), {U(AT_FDCWD), 0x10, O_CREAT | O_WRONLY, 0640}), mem);
  ASSERT_TRUE(o.has_value() && o->has_value());
  EXPECT_EQ((*o)->path.dirfd, AT_FDCWD);
  EXPECT_EQ((*o)->path.addr, 0x10u);
  EXPECT_EQ((*o)->flags, static_cast<uint64_t>(O_CREAT | O_WRONLY));
  EXPECT_EQ((*o)->mode, 0640u);

  o = OpenArgsOf(Call(SCMP_SYS(creat), {0x10, 0600}), mem);
  ASSERT_TRUE(o.has_value() && o->has_value());
  EXPECT_EQ((*o)->flags, static_cast<uint64_t>(O_CREAT | O_WRONLY | O_TRUNC));
  EXPECT_EQ((*o)->mode, 0600u);
  EXPECT_EQ((*o)->path.access, kAccessWrite | kAccessCreate);

  open_how how{};
  how.flags = O_RDWR | O_NOFOLLOW;
  how.mode = 0;
  how.resolve = RESOLVE_BENEATH;
  uint64_t at = mem.PutObject(how);
  o = OpenArgsOf(Call(SCMP_SYS(openat2), {5, 0x10, at, sizeof how}), mem);
  ASSERT_TRUE(o.has_value() && o->has_value());
  EXPECT_EQ((*o)->path.dirfd, 5);
  EXPECT_EQ((*o)->flags, static_cast<uint64_t>(O_RDWR | O_NOFOLLOW));
  EXPECT_EQ((*o)->resolve, static_cast<uint64_t>(RESOLVE_BENEATH));
  EXPECT_EQ((*o)->path.access, kAccessRead | kAccessWrite);
  EXPECT_FALSE((*o)->path.follow);

  // An open_how cut short by the end of readable memory; an unreadable one.
  uint64_t short_how = mem.PutObject(how, sizeof how - 4);
  o = OpenArgsOf(Call(SCMP_SYS(openat2), {5, 0x10, short_how, sizeof how}), mem);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().code, EINVAL);
  o = OpenArgsOf(Call(SCMP_SYS(openat2), {5, 0x10, kBadAddress, sizeof how}), mem);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().code, EFAULT);

  o = OpenArgsOf(Call(SCMP_SYS(unlink), {0x10}), mem);
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->has_value());
}

// The calls fs_guard watches for each access kind, as the table derives them.
TEST(SyscallArgsTest, CallsWithAccess) {
  auto names = [](uint8_t mask) { return SyscallNames(CallsWithAccess(mask), ","); };
  EXPECT_EQ(names(kAccessRead), "open,openat,openat2");
  EXPECT_EQ(names(kAccessExec), "execve,execveat");
  EXPECT_EQ(names(kAccessWrite), "open,truncate,creat,openat,openat2");
  EXPECT_EQ(names(kAccessUnlink), "rename,rmdir,unlink,unlinkat,renameat,renameat2");
  EXPECT_EQ(names(kAccessCreate),
            "open,rename,mkdir,creat,link,symlink,mknod,openat,mkdirat,mknodat,renameat,linkat,"
            "symlinkat,renameat2,openat2");
  EXPECT_TRUE(CallsWithAccess(kAccessMetadata).Contains(SCMP_SYS(stat)));
  EXPECT_FALSE(CallsWithAccess(kAccessAll).Contains(SCMP_SYS(stat)));
}

TEST(SyscallArgsTest, DescriptorsAndSocketAddresses) {
  EXPECT_EQ(FdArg(Call(SCMP_SYS(read), {7, 0, 0, 0, 0, 0})), 7);
  EXPECT_EQ(FdArg(Call(SCMP_SYS(fsync), {0xffffffff00000009ull, 0, 0, 0, 0, 0})), 9);
  EXPECT_FALSE(FdArg(Call(SCMP_SYS(openat), {3, 0, 0, 0, 0, 0})));  // a dirfd is no operand

  auto ref = SockaddrArg(Call(SCMP_SYS(connect), {3, 0x10, 16, 0, 0, 0}));
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->addr, 0x10u);
  EXPECT_EQ(ref->len, 16u);
  ref = SockaddrArg(Call(SCMP_SYS(sendto), {3, 0x10, 5, 0, 0x20, 0xffffffff0000001cull}));
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->addr, 0x20u);
  EXPECT_EQ(ref->len, 28u);  // socklen_t: the low 32 bits
  EXPECT_FALSE(SockaddrArg(Call(SCMP_SYS(sendmsg), {3, 0x10, 0, 0, 0, 0})));

  FakeGuestMemory mem;
  msghdr msgs[2] = {};
  msgs[1].msg_name = reinterpret_cast<void*>(0x40);
  msgs[1].msg_namelen = 16;
  mmsghdr mm[2] = {};
  mm[1].msg_hdr = msgs[1];
  uint64_t one = mem.PutObject(msgs[1]);
  uint64_t vec = mem.PutObject(mm);
  EXPECT_EQ(MessageCount(Call(SCMP_SYS(sendmsg), {3, one, 0, 0, 0, 0})), 1u);
  EXPECT_EQ(MessageCount(Call(SCMP_SYS(recvmsg), {3, one, 0, 0, 0, 0})), 0u);
  EXPECT_EQ(MessageCount(Call(SCMP_SYS(sendmmsg), {3, vec, 2, 0, 0, 0})), 2u);
  EXPECT_EQ(MessageCount(Call(SCMP_SYS(sendmmsg), {3, vec, 1u << 20, 0, 0, 0})), kMaxMessages);
  auto m = MessageAddress(Call(SCMP_SYS(sendmsg), {3, one, 0, 0, 0, 0}), mem, 0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->addr, 0x40u);
  EXPECT_EQ(m->len, 16u);
  m = MessageAddress(Call(SCMP_SYS(sendmmsg), {3, vec, 2, 0, 0, 0}), mem, 1);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->addr, 0x40u);
  uint64_t cut = mem.PutObject(msgs[1], sizeof(msghdr) - 8);
  m = MessageAddress(Call(SCMP_SYS(sendmsg), {3, cut, 0, 0, 0, 0}), mem, 0);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, EINVAL);
  m = MessageAddress(Call(SCMP_SYS(sendmsg), {3, kBadAddress, 0, 0, 0, 0}), mem, 0);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, EFAULT);
}

// Random registers for every layout (seeded): the extractors stay within the call's arguments.
TEST(SyscallArgsTest, ExtractorsHoldForRandomArguments) {
  std::mt19937_64 rng(12);
  FakeGuestMemory mem;
  for (int round = 0; round < 200; ++round) {
    for (const CallLayout& call : Layouts()) {
      std::array<uint64_t, 6> args;
      for (uint64_t& a : args) {
        a = rng();
      }
      SyscallEvent ev = Call(call.nr, args);
      for (const PathArg& p : PathArgs(ev)) {
        ASSERT_LT(p.index, 6u);
        EXPECT_EQ(call.args[p.index], ArgKind::kPath);
        EXPECT_EQ(p.access & ~(kAccessAll | kAccessMetadata), 0);
      }
      if (FdArg(ev)) {
        EXPECT_NE(std::find(call.args.begin(), call.args.end(), ArgKind::kFd), call.args.end());
      }
      if (SockaddrArg(ev)) {
        EXPECT_NE(std::find(call.args.begin(), call.args.end(), ArgKind::kSockaddr),
                  call.args.end());
      }
      EXPECT_LE(MessageCount(ev), kMaxMessages);
      auto open = OpenArgsOf(ev, mem);  // openat2's pointer is random: unreadable
      if (open && *open) {
        EXPECT_EQ((*open)->path.addr, ev.args[(*open)->path.index]);
      }
    }
  }
}

std::string Bytes(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

std::optional<SocketAddress> Parse(const std::string& bytes) {
  return ParseSockaddr(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

TEST(SockaddrTest, BoundsOfEachFamily) {
  EXPECT_FALSE(Parse(""));
  EXPECT_FALSE(Parse(std::string(1, '\x02')));  // half a family

  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(8080);
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  auto a = Parse(Bytes(&sin, sizeof sin));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->complete);
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->ip[0], 127);
  EXPECT_EQ(a->ip[3], 1);
  a = Parse(Bytes(&sin, 8));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_FALSE(a->complete);

  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(443);
  sin6.sin6_scope_id = 3;
  inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr);
  a = Parse(Bytes(&sin6, sizeof sin6));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->complete);
  EXPECT_EQ(a->scope_id, 3u);
  EXPECT_EQ(a->port, 443);
  // SIN6_LEN_RFC2133: without the scope id, still an address the kernel takes.
  a = Parse(Bytes(&sin6, offsetof(sockaddr_in6, sin6_scope_id)));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->complete);
  EXPECT_EQ(a->scope_id, 0u);
  a = Parse(Bytes(&sin6, offsetof(sockaddr_in6, sin6_scope_id) - 1));
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->complete);

  const std::string unix_family = Bytes("\x01\x00", 2);
  a = Parse(unix_family);  // unnamed
  ASSERT_TRUE(a);
  EXPECT_EQ(a->unix_path, "");
  EXPECT_FALSE(a->abstract);
  a = Parse(unix_family + "/run/x.sock" + std::string(1, '\0') + "junk");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->unix_path, "/run/x.sock");
  a = Parse(unix_family + std::string(1, '\0') + std::string("ab\0c", 4));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->abstract);
  EXPECT_EQ(a->unix_path, "@" + std::string("ab\0c", 4));  // every byte of the name counts
  a = Parse(unix_family + "@notabstract");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->abstract);
  // More than a sockaddr_storage: the rest is not looked at.
  a = Parse(unix_family + std::string(300, 'p'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->unix_path.size(), sizeof(sockaddr_storage) - 2);
  a = Parse(Bytes("\x10\x00", 2) + "netlink");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family, AF_NETLINK);
  EXPECT_TRUE(a->complete);
}

TEST(SockaddrTest, ReadSockaddrFromGuestMemory) {
  FakeGuestMemory mem;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(53);
  uint64_t at = mem.PutObject(sin);
  auto a = ReadSockaddr(mem, {at, sizeof sin});
  ASSERT_TRUE(a.has_value() && a->has_value());
  EXPECT_EQ((*a)->port, 53);
  a = ReadSockaddr(mem, {at, 1});  // shorter than a family: nothing is read
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->has_value());
  a = ReadSockaddr(mem, {at, 4096});  // a length past the object reads what is there
  ASSERT_TRUE(a.has_value() && a->has_value());
  EXPECT_TRUE((*a)->complete);
  a = ReadSockaddr(mem, {kBadAddress, 16});
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, EFAULT);
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
  // A call a signal interrupted (seen at its exit stop under ptrace, as after an attach), as
  // strace shows it.
  EXPECT_EQ(FormatResult(SCMP_SYS(read), -512),
            "? ERESTARTSYS (To be restarted if SA_RESTART is set)");
  EXPECT_EQ(FormatResult(SCMP_SYS(nanosleep), -516),
            "? ERESTART_RESTARTBLOCK (Interrupted by signal)");
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
