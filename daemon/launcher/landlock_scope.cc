#include "daemon/launcher/landlock_scope.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace hijack::launcher {
namespace {

// The kernel's struct landlock_ruleset_attr as of ABI 6 (include/uapi/linux/landlock.h); the
// distribution's header may predate `scoped`. The kernel accepts a shorter or equal size and
// checks that bits it does not know are zero.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
constexpr uint32_t kCreateRulesetVersion = 1U << 0;     // LANDLOCK_CREATE_RULESET_VERSION
constexpr uint64_t kScopeAbstractUnixSocket = 1U << 0;  // LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
constexpr uint64_t kScopeSignal = 1U << 1;              // LANDLOCK_SCOPE_SIGNAL

}  // namespace

int LandlockAbi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

int ScopeSelfWithLandlock() {
  RulesetAttr attr{0, 0, kScopeAbstractUnixSocket | kScopeSignal};
  long fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (fd < 0) {
    return errno;
  }
  long rc = syscall(SYS_landlock_restrict_self, fd, 0);
  const int err = rc < 0 ? errno : 0;
  close(static_cast<int>(fd));
  return err;
}

}  // namespace hijack::launcher
