// What a policy's allow lists must let a guest reach for it to start: its program, the shared
// libraries the loader opens for it, and hijackd's own agent. `hijackd check POLICY -- PROGRAM`
// warns about each one that fs_guard or exec_guard would deny, before the guest fails with a bare
// EACCES (exit status 126, "cannot be preloaded").
//
//   std::vector<StartFile> files = {{"/usr/sbin/lighttpd", StartFile::kExec, "the program"}};
//   for (const StartFileOmission& o : PolicyOmissions(*policy, files)) {
//     // o.module "exec_guard", o.path "/usr/sbin/lighttpd", o.reason.hint "add ... to ..."
//   }
//
// Only the rules are asked (FsGuardModule::Judge, ExecGuardModule::Allows): nothing is opened.
// Thread-safe (the modules' rules are immutable).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "daemon/policy/policy_set.h"
#include "hijack/decision.h"

namespace hijack::modules {

struct StartFile {
  enum Use : uint8_t {
    kExec,  // execve(2) of it: exec_guard judges it, and fs_guard its exec access
    kRead,  // opened to be mapped (the loader's openat(2) of a library, of the agent)
  };
  std::string path;  // absolute and resolved (realpath(3)): what the modules judge
  Use use = kRead;
  std::string what;  // "the program", "a library it needs (libc.so.6)", "hijackd's agent"
};

struct StartFileOmission {
  size_t module_index = 0;  // in PolicySet::modules(), for the JSON path /modules/N
  std::string module;
  StartFile file;
  DenialReason reason;  // the rule that denies it and the pattern to add (DenialReason::hint)
};

std::vector<StartFileOmission> PolicyOmissions(const policy::PolicySet& policy,
                                               std::span<const StartFile> files);

}  // namespace hijack::modules
