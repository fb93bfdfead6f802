#include "daemon/launcher/landlock_scope.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace hijack::launcher {
namespace {

constexpr uint32_t kCreateRulesetVersion = 1U << 0;  // LANDLOCK_CREATE_RULESET_VERSION

}  // namespace

int LandlockAbi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

}  // namespace hijack::launcher
