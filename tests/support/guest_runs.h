// GuestRuns: a suite's own guest under `hijackd run`, one policy file per run. Run writes
// `modules` to the next of policy1.json, policy2.json, ... in `dir` and runs
// `hijackd run --backend B --policy FILE --quiet -- guest args...` to its end.
//
//   GuestRuns runs{kHijackd, kGuest, dir_};
//   ProcessResult r = runs.Run(GetParam(), R"({"module": "net_guard", ...})", {"connect", "80"});
//
// Threads: one test's; Run forks and waits (subprocess.h).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {

class GuestRuns {
 public:
  GuestRuns(std::string hijackd, std::string guest, const TempDir& dir)
      : hijackd_(std::move(hijackd)), guest_(std::move(guest)), dir_(dir) {}
  GuestRuns(const GuestRuns&) = delete;  // it names its owner's directory
  GuestRuns& operator=(const GuestRuns&) = delete;

  ProcessResult Run(const std::string& backend, const std::string& modules,
                    const std::vector<std::string>& args) {
    std::vector<std::string> command = {guest_};
    command.insert(command.end(), args.begin(), args.end());
    return HijackdRun{.hijackd = hijackd_,
                      .backend = backend,
                      .policy = WritePolicy(dir_, "policy" + std::to_string(++policies_) + ".json",
                                            modules),
                      .quiet = true}
        .Run(command);
  }

 private:
  std::string hijackd_;
  std::string guest_;
  const TempDir& dir_;
  int policies_ = 0;
};

}  // namespace hijack::testing
