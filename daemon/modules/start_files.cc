#include "daemon/modules/start_files.h"

#include "daemon/modules/exec_guard/exec_guard_module.h"
#include "daemon/modules/fs_guard/fs_guard_module.h"

namespace hijack::modules {

std::vector<StartFileOmission> PolicyOmissions(const policy::PolicySet& policy,
                                               std::span<const StartFile> files) {
  std::vector<StartFileOmission> out;
  const auto& modules = policy.modules();
  for (size_t i = 0; i < modules.size(); ++i) {
    PolicyModule* module = modules[i].get();
    for (const StartFile& file : files) {
      std::optional<DenialReason> reason;
      // The modules of the policy are ours (the registry made them): a cast finds their rules.
      if (const auto* fs = dynamic_cast<const FsGuardModule*>(module)) {
        reason = fs->Judge(file.path, file.use == StartFile::kExec ? kAccessExec : kAccessRead);
      } else if (const auto* exec = dynamic_cast<const ExecGuardModule*>(module);
                 exec != nullptr && file.use == StartFile::kExec && !exec->Allows(file.path)) {
        reason = exec->Explain(file.path);
      }
      if (reason) {
        out.push_back({i, std::string(module->Name()), file, std::move(*reason)});
      }
    }
  }
  return out;
}

}  // namespace hijack::modules
