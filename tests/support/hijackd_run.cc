#include "tests/support/hijackd_run.h"

namespace hijack::testing {

std::vector<std::string> HijackdRun::Argv(const std::vector<std::string>& command) const {
  std::vector<std::string> argv = prefix;
  argv.push_back(hijackd);
  argv.insert(argv.end(), daemon_options.begin(), daemon_options.end());
  argv.push_back("run");
  if (!backend.empty()) {
    argv.insert(argv.end(), {"--backend", backend});
  }
  if (policy) {
    argv.insert(argv.end(), {"--policy", *policy});
  }
  if (quiet) {
    argv.push_back("--quiet");
  }
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

ProcessResult HijackdRun::Run(const std::vector<std::string>& command,
                              const ProcessOptions& opts) const {
  return RunProcess(Argv(command), opts);
}

std::string WritePolicy(const TempDir& dir, const std::string& name, const std::string& modules) {
  return dir.Write(name, R"({"version": 1, "modules": [)" + modules + "]}");
}

ProcessResult HijackdStrace(const std::string& hijackd, const std::string& backend,
                            const std::vector<std::string>& options,
                            const std::vector<std::string>& command) {
  std::vector<std::string> argv = {hijackd, "strace", "--backend", backend};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return RunProcess(argv);
}

}  // namespace hijack::testing
