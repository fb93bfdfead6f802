// What `hijackd run` loads before its guest runs: no part of the control plane (gRPC, protobuf,
// abseil) unless the run serves the API (daemon/control/control_plane.h), where the library is
// loaded and serves. The seccomp filter that hijackd builds itself (daemon/launcher/filter.h)
// against libseccomp's program for the same set, call number by call number.
#include <elf.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "daemon/launcher/filter.h"
#include "hijack/syscall_set.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
constexpr const char* kStartupGuest = HIJACK_TEST_STARTUP_GUEST;

// The libraries of gRPC and what it brings (protobuf, abseil, upb, c-ares, re2, OpenSSL).
const std::regex kControlPlaneLibrary(
    "lib(grpc|gpr|protobuf|absl_|upb|cares|re2|ssl|crypto|address_sorting)[^ /]*\\.so");

// DT_NEEDED of an ELF64 file (elf(5)): the dynamic section's string offsets into the string table
// that DT_STRTAB names, mapped back to a file offset through the PT_LOAD that holds it.
std::vector<std::string> Needed(const std::string& path) {
  // One read of the whole file: the instrumented build's hijackd is hundreds of megabytes, which
  // a character-wise stream iterator takes seconds over.
  std::string file;
  if (std::ifstream in(path, std::ios::binary | std::ios::ate); in) {
    file.resize(static_cast<size_t>(in.tellg()));
    in.seekg(0);
    in.read(file.data(), static_cast<std::streamsize>(file.size()));
  }
  std::vector<std::string> needed;
  if (file.size() < sizeof(Elf64_Ehdr)) {
    ADD_FAILURE() << path << ": not an ELF file";
    return needed;
  }
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(file.data());
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(file.data() + eh->e_phoff);
  const Elf64_Dyn* dyn = nullptr;
  size_t dyn_count = 0;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_DYNAMIC) {
      dyn = reinterpret_cast<const Elf64_Dyn*>(file.data() + ph[i].p_offset);
      dyn_count = ph[i].p_filesz / sizeof(Elf64_Dyn);
    }
  }
  if (dyn == nullptr) {
    return needed;  // static: needs nothing
  }
  uint64_t strtab_addr = 0;
  for (size_t i = 0; i < dyn_count && dyn[i].d_tag != DT_NULL; ++i) {
    if (dyn[i].d_tag == DT_STRTAB) {
      strtab_addr = dyn[i].d_un.d_ptr;
    }
  }
  uint64_t strtab_off = 0;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD && strtab_addr >= ph[i].p_vaddr &&
        strtab_addr < ph[i].p_vaddr + ph[i].p_filesz) {
      strtab_off = strtab_addr - ph[i].p_vaddr + ph[i].p_offset;
    }
  }
  for (size_t i = 0; i < dyn_count && dyn[i].d_tag != DT_NULL; ++i) {
    if (dyn[i].d_tag == DT_NEEDED) {
      needed.emplace_back(file.c_str() + strtab_off + dyn[i].d_un.d_val);
    }
  }
  return needed;
}

TEST(Startup, HijackdNeedsNoControlPlaneLibrary) {
  const std::vector<std::string> needed = Needed(kHijackd);
  ASSERT_FALSE(needed.empty()) << kHijackd;
  for (const std::string& lib : needed) {
    EXPECT_FALSE(std::regex_search(lib, kControlPlaneLibrary))
        << kHijackd << " needs " << lib << " at start-up";
  }
}

// The dynamic loader's own account (ld.so(8), LD_DEBUG=files) of every library each process
// loads: hijackd's and the guest's.
TEST(Startup, RunWithoutListenLoadsNoControlPlane) {
  ProcessOptions loader_log;
  loader_log.env_add = {"LD_DEBUG=files"};
  ProcessResult r = HijackdRun{.hijackd = kHijackd, .quiet = true}.Run({"true"}, loader_log);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::regex_search(r.err, kControlPlaneLibrary)) << r.err;
  EXPECT_EQ(r.err.find("libhijack-control.so"), std::string::npos) << r.err;
}

TEST(Startup, RunWithListenLoadsAndServesTheControlPlane) {
  TempDir dir;
  ProcessOptions loader_log;
  loader_log.env_add = {"LD_DEBUG=files"};
  ProcessResult r = HijackdRun{.hijackd = kHijackd,
                               .quiet = true,
                               .options = {"--listen", "unix:" + dir.path() + "/h.sock"}}
                        .Run({"true"}, loader_log);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("libhijack-control.so"), std::string::npos) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, kControlPlaneLibrary)) << r.err;
}

// A child that ends by exit(3) gives its agent slot back at once (agent/agent.cc): 300 children
// forked one after another never find the 64 slots taken by dead ones, whose owners the
// supervisor only looks for every few ticks, so none of their calls goes to the supervisor for
// want of a slot. (Without the release, the dead children held the slots until then.)
TEST(Startup, ChildrenThatExitGiveTheirAgentSlotBack) {
  ProcessResult r = HijackdRun{.hijackd = kHijackd, .daemon_options = {"--log-level", "debug"}}
                        .Run({kStartupGuest, "forks", "300"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("forked 300"), std::string::npos) << r.out;
  ASSERT_NE(r.err.find("calls observed in the guest"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" 0 calls sent to the supervisor for want of a slot"), std::string::npos)
      << r.err;
}

// alarm(2) and getpid(2), which a fork-per-connection server's children make several times each,
// run in the guest under the default policy (the agent counts them; the supervisor is not woken
// for them), and their answers are the kernel's. The stats table has every call, so each count
// came from the agent: the filter no longer sends them up.
TEST(Startup, AlarmAndGetpidRunInTheGuest) {
  ProcessResult r = HijackdRun{.hijackd = kHijackd}.Run({kStartupGuest, "alarms", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("alarms 50"), std::string::npos) << r.out;
  std::smatch exempt;
  ASSERT_TRUE(std::regex_search(r.err, exempt, std::regex("hijackd: agent: ([a-z0-9_,]+) ran")))
      << r.err;
  const std::string calls = "," + exempt[1].str() + ",";
  EXPECT_NE(calls.find(",alarm,"), std::string::npos) << calls;
  EXPECT_NE(calls.find(",getpid,"), std::string::npos) << calls;
  // 100 alarms and at least the 50 getpid calls of the loop.
  std::smatch alarm_row, getpid_row;
  ASSERT_TRUE(std::regex_search(r.err, alarm_row, std::regex("\\nalarm +([0-9]+) "))) << r.err;
  EXPECT_EQ(alarm_row[1].str(), "100") << r.err;
  ASSERT_TRUE(std::regex_search(r.err, getpid_row, std::regex("\\ngetpid +([0-9]+) ")))
      << r.err;
  EXPECT_GE(std::stoi(getpid_row[1].str()), 50) << r.err;
}

using launcher::CompileFilter;
using launcher::FilterAction;

// The program libseccomp makes for `set` with the settings hijackd used before it built its own:
// default ALLOW, foreign architectures KILL_PROCESS, `action` for each call of the set (exit and
// exit_group left out under notify, launcher::NeverNotified).
std::vector<sock_filter> LibseccompProgram(const SyscallSet& set, FilterAction action) {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW),
                                                       seccomp_release);
  EXPECT_NE(ctx, nullptr);
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  const uint32_t act = action == FilterAction::kNotify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRACE(0);
  for (int nr : set.Numbers()) {
    if (action == FilterAction::kNotify && launcher::NeverNotified(nr)) {
      continue;
    }
    EXPECT_EQ(seccomp_rule_add(ctx.get(), act, nr, 0), 0) << nr;
  }
  const int mem = memfd_create("reference-filter", MFD_CLOEXEC);
  EXPECT_GE(mem, 0);
  EXPECT_EQ(seccomp_export_bpf(ctx.get(), mem), 0);
  struct stat st {};
  fstat(mem, &st);
  std::vector<sock_filter> insns(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  EXPECT_EQ(pread(mem, insns.data(), insns.size() * sizeof(sock_filter), 0),
            static_cast<ssize_t>(insns.size() * sizeof(sock_filter)));
  close(mem);
  return insns;
}

struct Verdict {
  uint32_t action;
  size_t steps;  // instructions executed
};

// Runs a classic BPF seccomp program on one seccomp_data as the kernel would (the instructions
// either program uses; any other fails the test).
std::optional<Verdict> Evaluate(const std::vector<sock_filter>& prog, const seccomp_data& data) {
  uint32_t a = 0;
  size_t steps = 0;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    ++steps;
    const sock_filter& in = prog[pc];
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k + 4 > sizeof data) {
          ADD_FAILURE() << "load past seccomp_data at " << pc;
          return std::nullopt;
        }
        std::memcpy(&a, reinterpret_cast<const char*>(&data) + in.k, 4);
        break;
      case BPF_JMP | BPF_JA:
        pc += in.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == in.k ? in.jt : in.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += a > in.k ? in.jt : in.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= in.k ? in.jt : in.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & in.k) != 0 ? in.jt : in.jf;
        break;
      case BPF_RET | BPF_K:
        return Verdict{in.k, steps};
      default:
        ADD_FAILURE() << "instruction " << in.code << " at " << pc << " is not modelled";
        return std::nullopt;
    }
  }
  ADD_FAILURE() << "the program runs off its end";
  return std::nullopt;
}

// Every call number the kernel can put in seccomp_data.nr that a filter might tell apart: each
// one up to past SyscallSet's capacity, the x32 range's edges and calls, -1 (a cancelled call)
// and seeded random ones.
std::vector<uint32_t> Numbers() {
  std::vector<uint32_t> out;
  for (uint32_t nr = 0; nr < 1100; ++nr) {
    out.push_back(nr);
  }
  for (uint32_t nr : {0x3fffffffu, 0x40000000u, 0x40000001u, 0x40000000u + SYS_execve,
                      0x40000000u + 520, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu}) {
    out.push_back(nr);
  }
  std::mt19937 rng(16);
  for (int i = 0; i < 2000; ++i) {
    out.push_back(static_cast<uint32_t>(rng()));
  }
  return out;
}

// Sets that shape the program differently: none, every call, every call but a few (the default
// policy's), sparse, alternating, edges of the capacity, and seeded random ones.
std::vector<SyscallSet> Sets() {
  std::vector<SyscallSet> sets(1);
  SyscallSet all, most, sparse, alternate, edges;
  for (int nr = 0; nr < 460; ++nr) {
    all.Add(nr);
    if (nr != SYS_rt_sigreturn && nr != SYS_read && nr != SYS_write) {
      most.Add(nr);
    }
    if (nr % 2 == 0) {
      alternate.Add(nr);
    }
  }
  for (int nr : {SYS_execve, SYS_execveat, SYS_openat, SYS_connect, SYS_exit, SYS_exit_group}) {
    sparse.Add(nr);
  }
  for (int nr : {0, 1, SyscallSet::kCapacity - 2, SyscallSet::kCapacity - 1}) {
    edges.Add(nr);
  }
  sets.insert(sets.end(), {all, most, sparse, alternate, edges});
  std::mt19937 rng(7);
  for (int i = 0; i < 6; ++i) {
    SyscallSet random;
    std::bernoulli_distribution pick(i / 6.0 + 0.05);
    for (int nr = 0; nr < 470; ++nr) {
      if (pick(rng)) {
        random.Add(nr);
      }
    }
    sets.push_back(random);
  }
  return sets;
}

// The verdict of hijackd's program is libseccomp's for every number and architecture: the same
// calls stop, every other x86_64 call runs, i386, x32 and unknown architectures are killed.
TEST(FilterCompile, SameVerdictAsLibseccompForEveryCall) {
  const std::vector<uint32_t> numbers = Numbers();
  for (FilterAction action : {FilterAction::kNotify, FilterAction::kTrace}) {
    for (const SyscallSet& set : Sets()) {
      auto ours = CompileFilter(set, action);
      ASSERT_TRUE(ours) << ours.error().message;
      const std::vector<sock_filter> reference = LibseccompProgram(set, action);
      for (uint32_t arch : {uint32_t{AUDIT_ARCH_X86_64}, uint32_t{AUDIT_ARCH_I386},
                            uint32_t{AUDIT_ARCH_AARCH64}, 0u}) {
        for (uint32_t nr : numbers) {
          seccomp_data data{};
          data.nr = static_cast<int>(nr);
          data.arch = arch;
          data.instruction_pointer = 0x7000'0000'1000;
          auto got = Evaluate(ours->instructions(), data);
          auto want = Evaluate(reference, data);
          ASSERT_TRUE(got && want);
          ASSERT_EQ(got->action, want->action)
              << "nr " << nr << " arch " << std::hex << arch << ", set of " << std::dec
              << set.size() << " calls, " << (action == FilterAction::kNotify ? "notify" : "trace");
        }
      }
    }
  }
}

// A lookup takes a few instructions whatever the set (a balanced search, not one compare per
// call of the set as libseccomp's program makes): at most 8 + 2 * log2(1025) + 1.
TEST(FilterCompile, LookupIsLogarithmic) {
  for (const SyscallSet& set : Sets()) {
    auto prog = CompileFilter(set, FilterAction::kNotify);
    ASSERT_TRUE(prog) << prog.error().message;
    for (uint32_t nr = 0; nr < 1100; ++nr) {
      seccomp_data data{};
      data.nr = static_cast<int>(nr);
      data.arch = AUDIT_ARCH_X86_64;
      auto v = Evaluate(prog->instructions(), data);
      ASSERT_TRUE(v);
      EXPECT_LE(v->steps, 30u) << "nr " << nr << " in a set of " << set.size();
    }
  }
}

}  // namespace
}  // namespace hijack::testing
