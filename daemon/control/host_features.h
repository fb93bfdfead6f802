// What this host offers Hijack, for `hijackd --version` and the control API's Health: each
// backend and why it cannot run, the seccomp and Landlock features found, and the agent library.
//
//   for (const HostFeature& f : ProbeHostFeatures()) {
//     std::printf("  %-20s %s\n", f.name.c_str(), f.detail.c_str());
//   }
//   //   backend notify       available (seccomp user notification)
//   //   wait-killable-recv   yes (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, Linux 5.19)
//   //   landlock             ABI 7 (scoping needs 6)
//   //   agent                /usr/lib/hijack/libhijack-agent.so
//
// Probing a backend (backend_table.h) starts a short-lived child, so this costs a few
// milliseconds. Threads: any.
#pragma once

#include <string>
#include <vector>

namespace hijack::control {

struct HostFeature {
  std::string name;    // "backend notify", "landlock", ...
  bool present = false;
  std::string detail;  // what was found, or why not
};

std::vector<HostFeature> ProbeHostFeatures();

}  // namespace hijack::control
