// HijackdRun: the command line of one `hijackd run` a test makes, and running it to the end.
//
//   HijackdRun run{.hijackd = kHijackd, .backend = GetParam(), .quiet = true};
//   run.policy = WritePolicy(dir, "deny.json", R"({"module": "deny", "syscalls": ["mkdir"]})");
//   ProcessResult r = run.Run({kGuest, "exit", "3"});   // exit status, stdout, stderr
//   EXPECT_EQ(r.exit_code, 3) << r.err;
//
// The words come in one order: prefix, hijackd, hijackd's own options, "run", --backend,
// --policy, --quiet, the other options of run, "--", the command. Every test that starts
// `hijackd run` builds its command line here, so a backend-parameterized suite differs from
// another only in what it asks for.
//
// Threads: a value; Run forks and waits (subprocess.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace hijack::testing {

struct HijackdRun {
  std::string hijackd{};              // the hijackd binary
  std::string backend{};             // --backend; empty: hijackd's default (auto)
  std::optional<std::string> policy{};  // --policy FILE
  bool quiet = false;                // --quiet: no report at the end
  std::vector<std::string> options{};  // other options of `run` ("--contain", "none", ...)
  std::vector<std::string> daemon_options{};  // before "run" ("--log-level", "debug")
  // Words before hijackd: a wrapper it runs under (setpriv(1), refusing_wrapper).
  // (Every member has an initializer so that designated initializers may leave any out.)
  std::vector<std::string> prefix{};

  std::vector<std::string> Argv(const std::vector<std::string>& command) const;
  ProcessResult Run(const std::vector<std::string>& command,
                    const ProcessOptions& opts = {}) const;
};

// A policy document of `modules` (JSON objects, comma separated) written as `name` in `dir`;
// returns its path.
std::string WritePolicy(const TempDir& dir, const std::string& name, const std::string& modules);

// `hijackd strace --backend BACKEND OPTIONS... -- COMMAND...`, run to the end.
ProcessResult HijackdStrace(const std::string& hijackd, const std::string& backend,
                            const std::vector<std::string>& options,
                            const std::vector<std::string>& command);

}  // namespace hijack::testing
