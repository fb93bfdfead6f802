// Landlock rulesets compiled from the kernel floors of a guest's policy (include/hijack/
// kernel_floor.h), with the supervisor's own scoping (landlock_scope.h), installed in the child
// before exec (landlock(7), landlock_create_ruleset(2), landlock_add_rule(2),
// landlock_restrict_self(2)).
//
//   std::vector<KernelFloor> floors = ...;             // one per confining module
//   for (auto& f : floors) f = FitFloorToAbi(std::move(f), abi);   // what this kernel can hold
//   Result<LandlockRulesets> rs = LandlockRulesets::Build(floors, abi, /*scope=*/true);
//   // in the forked child, after PR_SET_NO_NEW_PRIVS:
//   if (int err = rs->RestrictSelf(); err != 0) { report(err); _exit(125); }
//
// One ruleset per floor, so the kernel holds their intersection (each layer of a Landlock
// domain must allow an access), as the policy chain does (every enforcing module must let a
// call through). The first ruleset also carries the scope. Access kinds map to Landlock's
// rights as follows (never tighter than the module; see docs/SECURITY.md):
//   read   READ_FILE, READ_DIR
//   write  WRITE_FILE, TRUNCATE (ABI 3)
//   create MAKE_REG, MAKE_DIR, MAKE_SYM, MAKE_FIFO, MAKE_SOCK, MAKE_CHAR, MAKE_BLOCK, REFER,
//          REMOVE_FILE, REMOVE_DIR (a rename onto an existing name removes it)
//   unlink REMOVE_FILE, REMOVE_DIR, REFER
//   exec   EXECUTE, READ_FILE (execve(2) opens the program and its interpreter for reading)
// and every ruleset that handles file access handles REFER (renames and links across
// directories, which Landlock otherwise always refuses): granted with create and unlink, and
// beneath "/" in a floor that confines neither (exec_guard's). ABI 1 cannot grant REFER at all,
// so it holds no file floor.
//
// Threads: Build() on any thread of the supervisor (it opens the trees with O_PATH; the rulesets
// restrict nobody until RestrictSelf); RestrictSelf() is async-signal-safe (raw calls only) and
// restricts the calling thread, so call it in the forked child before it starts any thread.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "hijack/kernel_floor.h"
#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::launcher {

// The first Landlock ABI of each kind of floor.
inline constexpr int kLandlockFsAbi = 1;
inline constexpr int kLandlockReferAbi = 2;     // rename and link across directories
inline constexpr int kLandlockTruncateAbi = 3;
inline constexpr int kLandlockNetAbi = 4;       // TCP bind and connect ports
// A domain holds at most 16 layers (landlock_restrict_self(2), E2BIG).
inline constexpr size_t kLandlockMaxLayers = 16;

// `floor` as a kernel of Landlock ABI `abi` (0: none) can hold it: the parts it cannot move to
// module_only with the reason, and `held` says what remains. Pure.
KernelFloor FitFloorToAbi(KernelFloor floor, int abi);

// The files the kernel opens to exec `path` (execve(2)): the file, its ELF interpreter
// (PT_INTERP), and for a "#!" script its interpreter and that one's ELF interpreter. Files that
// cannot be read are left out (exec then fails as it would natively).
std::vector<std::string> ExecFiles(const std::string& path);

class LandlockRulesets {
 public:
  LandlockRulesets() = default;
  // Opens every tree of `floors` (O_PATH) and fills one ruleset per floor that is not empty,
  // the first with the scope when `scope`; with no floor and `scope`, one ruleset of scope only.
  // Errors name the tree that could not be opened or the rule the kernel refused, with errno.
  static Result<LandlockRulesets> Build(std::span<const KernelFloor> floors, int abi, bool scope);

  bool empty() const { return rulesets_.empty(); }
  // landlock_restrict_self(2) with each ruleset, in order. Returns 0 or the errno. Needs
  // no_new_privs (or CAP_SYS_ADMIN).
  int RestrictSelf() const;

 private:
  std::vector<UniqueFd> rulesets_;
};

}  // namespace hijack::launcher
