// What `hijackd run` loads before its guest runs: no part of the control plane (gRPC, protobuf,
// abseil) unless the run serves the API (daemon/control/control_plane.h), where the library is
// loaded and serves.
#include <elf.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

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
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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

}  // namespace
}  // namespace hijack::testing
