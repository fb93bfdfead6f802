// Fuzz target: a policy file as `hijackd check FILE` and `hijackd run --policy FILE` read it
// (PolicySet::FromFile: the bounded read, the bounded JSON parse, every module's validation).
//
//   build/fuzz/tests/fuzz/policy_fuzzer -max_total_time=600 build/fuzz/corpus/policy \
//       tests/fuzz/corpus/policy
//
// The input is written to a memfd (a regular file to fstat(2)) and read back by path. A
// policy that loads must survive what the daemon does with one: copy, print, index.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon/policy/policy_set.h"
#include "tests/fuzz/fuzz_registry.h"

namespace {

int PolicyFile() {
  static const int fd = [] {
    int f = memfd_create("fuzz-policy", MFD_CLOEXEC);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = PolicyFile();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto set = hijack::policy::PolicySet::FromFile(path, hijack::fuzz::FuzzRegistry());
  if (!set) {
    if (set.error().message.empty()) {
      std::abort();  // every refusal says why
    }
    return 0;
  }
  const auto& policy = **set;
  (void)policy.document().dump(2);
  const nlohmann::json copy = policy.document();
  if (copy != policy.document()) {
    std::abort();
  }
  for (int nr : policy.needed().Numbers()) {
    (void)policy.DecidersFor(nr);
    (void)policy.AgentMayRun(nr);
  }
  return 0;
}
