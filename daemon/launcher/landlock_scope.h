// Landlock scoping of a starting guest: the kernel keeps the guest's signals and abstract unix
// socket connections inside its own Landlock domain (Linux 6.12, Landlock ABI 6), and every
// ptrace access check (ptrace(2), process_vm_readv(2), pidfd_getfd(2), /proc/PID/mem, kcmp(2))
// to a process outside the domain fails, whatever the uids and capabilities (landlock(7),
// "Scoped access rights" and "Ptrace restrictions").
//
//   int abi = LandlockAbi();                     // supervisor, before fork
//   bool scope = abi >= kLandlockScopeAbi;
//   // LandlockRulesets::Build(floors, abi, scope) puts the scope in the first ruleset
//   // (landlock_ruleset.h), which the child installs before exec.
//
// Each guest restricts itself, so each guest is its own domain: one guest cannot signal,
// trace or read another guest of the same daemon, nor the daemon, nor its helpers. The
// supervisor, outside every domain, still traces, reads and signals its guests.
//
// Threads: LandlockAbi() on any thread.
#pragma once

namespace hijack::launcher {

// The first Landlock ABI with LANDLOCK_SCOPE_SIGNAL and LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET.
inline constexpr int kLandlockScopeAbi = 6;

// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the kernel's Landlock ABI,
// or 0 when Landlock is not built in or not enabled (ENOSYS, EOPNOTSUPP) or refused by a
// seccomp profile.
int LandlockAbi();

}  // namespace hijack::launcher
