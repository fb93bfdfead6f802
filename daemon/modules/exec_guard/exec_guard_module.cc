#include "daemon/modules/exec_guard/exec_guard_module.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/format.h>
#include <seccomp.h>

#include "common/bounded_file.h"
#include "daemon/modules/fs_guard/fs_guard_strict.h"
#include "daemon/modules/fs_guard/guest_path.h"
#include "daemon/syscalls/syscall_args.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::modules {
namespace {
constexpr size_t kRecent = 16;
}

ExecGuardModule::ExecGuardModule(Config config) : config_(std::move(config)) {
  syscalls_.Add(SCMP_SYS(execve));
  syscalls_.Add(SCMP_SYS(execveat));
  if (JudgesImages()) {
    // A child made with CLONE_UNTRACED would escape the exec watch (clone(2)): see Decide.
    syscalls_.Add(SCMP_SYS(clone));
    syscalls_.Add(SCMP_SYS(clone3));
  }
}

ExecGuardModule::~ExecGuardModule() {
  if (config_.log != nullptr && config_.log != stderr) {
    std::fclose(config_.log);
  }
}

bool ExecGuardModule::Allows(const std::string& path) const {
  if (AnyMatches(config_.deny, path)) {
    return false;
  }
  if (AnyMatches(config_.allow, path)) {
    return true;
  }
  return config_.default_allow;
}

DenialReason ExecGuardModule::Explain(const std::string& path) const {
  DenialReason reason;
  reason.path = path;
  for (size_t i = 0; i < config_.deny.size(); ++i) {
    if (config_.deny[i].Matches(path)) {
      reason.rule = fmt::format("deny[{}] \"{}\"", i, config_.deny[i].text());
      reason.hint = fmt::format("remove \"{}\" from exec_guard.deny", config_.deny[i].text());
      return reason;
    }
  }
  reason.rule = config_.allow.empty()
                    ? std::string("\"default\": \"deny\" (no allow list)")
                    : fmt::format("no allow pattern matches (allow[0..{}], default deny)",
                                  config_.allow.size() - 1);
  reason.hint = fmt::format("add \"{}\" to exec_guard.allow", path);
  return reason;
}

std::optional<Decision> ExecGuardModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  if (ev.nr == SCMP_SYS(clone)) {
    // The images are judged at the exec stops of a tracer, which a child made with
    // CLONE_UNTRACED never reaches (ptrace(2)): refused, by its flag register. The ptrace
    // backends clear the flag themselves before the call gets here.
    if ((ev.args[0] & CLONE_UNTRACED) == 0) {
      return std::nullopt;
    }
    DenialReason reason;
    reason.rule = "clone(CLONE_UNTRACED): the child's execs could not be judged";
    reason.hint = "set exec_guard \"image\": \"off\" to judge exec paths only";
    return Decision::Fail(EPERM).Because(std::move(reason));
  }
  if (ev.nr == SCMP_SYS(clone3)) {
    // Its flags are in guest memory, which another thread may change after a check: ENOSYS, as a
    // kernel before 5.3 answers, and glibc falls back to clone, whose flags are a register.
    return Decision::Fail(ENOSYS);
  }
  if (config_.deny.empty() && config_.default_allow) {
    // Nothing can be denied (a log-only guard): no resolution, so no failure to fail closed on.
    allowed_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  const syscalls::PathArgList args = syscalls::PathArgs(ev);
  if (args.empty()) {
    // Not a native call: its layout is unknown, and an exec guard fails closed.
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(config_.err);
  }
  const syscalls::PathArg& exe = args[0];
  auto path = mem.ReadString(exe.addr, PATH_MAX);
  if (!path) {
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(path.error().code == EFAULT ? EFAULT : config_.err);
  }
  GuestPathResolver resolver(ev, mem);
  ResolveOptions options;
  options.follow_last = exe.follow;
  options.empty_path = exe.empty_path;
  auto r = resolver.Resolve(exe.dirfd, *path, options);
  if (!r) {
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    int code = r.error().code;
    return code == ENOENT || code == ENOTDIR ? AsTheKernelWould(code) : Decision::Fail(config_.err);
  }
  if (!Allows(r->path)) {
    denied_.fetch_add(1, std::memory_order_relaxed);
    DenialReason reason = Explain(r->path);
    if (!r->exists) {
      reason.would_fail = ENOENT;  // execve(2) of a name that is not there
    }
    return Decision::Fail(config_.err).Because(std::move(reason));
  }
  allowed_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

bool ExecGuardModule::JudgesImages() const {
  return config_.verify_image && (!config_.deny.empty() || !config_.default_allow);
}

std::optional<Decision> ExecGuardModule::JudgeImage(const SyscallEvent& exec, GuestMemory& mem) {
  // /proc/PID/exe is the file the kernel mapped (proc(5)): its name is walked again as the
  // guest would and must lead to the same inode, so a file renamed or unlinked since names what
  // it is now, or nothing (fail closed). Device and inode, not the mount: the guest may run in a
  // mount namespace of its own (--contain), whose mounts are copies of the supervisor's.
  const std::string link = "/proc/" + std::to_string(exec.pid) + "/exe";
  Result<std::string> path = [&]() -> Result<std::string> {
    struct stat image {};
    if (stat(link.c_str(), &image) != 0) {
      return ErrnoError(errno, "stat " + link);
    }
    char buf[PATH_MAX];
    const ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
    if (n <= 0) {
      return ErrnoError(n < 0 ? errno : ENOENT, "readlink " + link);
    }
    const std::string name(buf, static_cast<size_t>(n));
    GuestPathResolver resolver(exec, mem);
    HIJACK_ASSIGN_OR_RETURN(ResolvedPath r, resolver.Resolve(AT_FDCWD, name, ResolveOptions{}));
    struct stat found {};
    if (!r.exists || fstat(r.fd.get(), &found) != 0 || found.st_dev != image.st_dev ||
        found.st_ino != image.st_ino) {
      return std::unexpected(
          Error{ESTALE, name + " no longer names the image of process " +
                            std::to_string(exec.pid) + " (unlinked, replaced or a memfd)"});
    }
    return r.path;
  }();
  if (!path) {
    images_killed_.fetch_add(1, std::memory_order_relaxed);
    DenialReason reason;
    reason.path = link;
    reason.rule = "the image's name cannot be walked back (" + path.error().message + ")";
    reason.hint = "exec a program that has a name in the guest's root";
    return Decision::Fail(config_.err).Because(std::move(reason));
  }
  if (!Allows(*path)) {
    images_killed_.fetch_add(1, std::memory_order_relaxed);
    DenialReason reason = Explain(*path);
    reason.rule = "image loaded by the kernel: " + reason.rule;
    return Decision::Fail(config_.err).Because(std::move(reason));
  }
  return std::nullopt;
}

void ExecGuardModule::Observe(const Event& event) {
  if (event.call.nr != SCMP_SYS(execve) && event.call.nr != SCMP_SYS(execveat)) {
    return;  // clone and clone3, judged only for the exec watch: not execs
  }
  nlohmann::json rec = {{"guest", event.call.guest_id},
                        {"pid", event.call.pid},
                        {"syscall", syscalls::SyscallName(event.call.nr)},
                        {"decision", KindName(event.decision.kind())}};
  const syscalls::PathArgList paths = syscalls::PathArgs(event.call);
  const size_t path_i = paths.empty() ? 0 : paths[0].index;
  if (!paths.empty() && event.args.size() > path_i + 1) {
    rec["path"] = event.args[path_i].json;
    rec["argv"] = event.args[path_i + 1].json;
  }
  if (event.decision.kind() == Decision::Kind::kFail) {
    rec["errno"] = ErrnoName(event.decision.error());
  }
  std::lock_guard lock(mu_);
  if (config_.log != nullptr) {
    std::string line = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (config_.log == stderr) {
      line = "hijackd: exec_guard: " + line;
    }
    std::fputs(line.c_str(), config_.log);
    std::fflush(config_.log);
  }
  recent_.push_back(std::move(rec));
  if (recent_.size() > kRecent) {
    recent_.pop_front();
  }
}

nlohmann::json ExecGuardModule::Stats() const {
  std::lock_guard lock(mu_);
  return {{"allowed", allowed_.load(std::memory_order_relaxed)},
          {"denied", denied_.load(std::memory_order_relaxed)},
          {"unresolved", unresolved_.load(std::memory_order_relaxed)},
          {"images_killed", images_killed_.load(std::memory_order_relaxed)},
          {"recent", nlohmann::json(recent_)},
          {"caveat",
           config_.verify_image
               ? "each loaded image is judged at its exec stop: no race (docs/SECURITY.md)"
               : "the exec check races: the kernel reads the path again after the supervisor "
                 "answers, so another guest thread can rewrite it in between (docs/SECURITY.md)"}};
}

policy::ModuleInfo ExecGuardModule::Info() {
  return {
      .name = "exec_guard",
      .summary = "allow or deny execve/execveat by resolved executable path; log argv",
      .settings = {policy::setting::Strings("allow", "path patterns of executables allowed"),
                   policy::setting::Strings("deny",
                                            "path patterns of executables denied (checked "
                                            "first)"),
                   policy::setting::Choice("default",
                                           "what an exec that no pattern matches gets (default: "
                                           "deny if there is an allow list, else allow)",
                                           {"allow", "deny"}),
                   policy::setting::Text("log",
                                         "argv log: a file (JSON lines, appended), \"-\" for "
                                         "standard error, or \"none\"")
                       .Default("-"),
                   policy::setting::Choice(
                       "image",
                       "also judge the image the kernel loaded, at the exec stop, and kill a "
                       "refused one before its first instruction: no race with guest threads "
                       "rewriting the path; a script's interpreter must be allowed too; costs one "
                       "open and walk per exec, clone3 ENOSYS and clone(CLONE_UNTRACED) EPERM, "
                       "and under notify a tracer on the guest's tree (stops at fork, exec and "
                       "signals; the guest cannot ptrace); \"off\": the call's path only",
                       {"verify", "off"})
                       .Default("verify"),
                   policy::setting::Errno("errno of denied execs", "EACCES")},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        Config c;
        for (const char* key : {"allow", "deny"}) {
          HIJACK_ASSIGN_OR_RETURN(auto list, config.StringList(key));
          if (list) {
            HIJACK_ASSIGN_OR_RETURN((std::string_view(key) == "allow" ? c.allow : c.deny),
                                    ParsePatterns(*list, config.PathOf(key)));
          }
        }
        if (!config.Has("allow") && !config.Has("deny") && !config.Has("default") &&
            !config.Has("log")) {
          return MakeError(config.path() + ": exec_guard needs allow, deny, default or log");
        }
        HIJACK_ASSIGN_OR_RETURN(auto def,
                                config.Enum<bool>("default", {{"allow", true}, {"deny", false}}));
        c.default_allow = def.value_or(!config.Has("allow"));
        HIJACK_ASSIGN_OR_RETURN(c.err, config.Errno("errno", EACCES));
        HIJACK_ASSIGN_OR_RETURN(auto image,
                                config.Enum<bool>("image", {{"verify", true}, {"off", false}}));
        c.verify_image = image.value_or(true);
        HIJACK_ASSIGN_OR_RETURN(auto log, config.String("log"));
        std::string target = log.value_or("-");
        if (target == "-") {
          c.log = stderr;
        } else if (target != "none") {
          // Appended: a log outlives runs. A FIFO without a reader fails instead of hanging.
          auto opened = common::OpenOutputFile(target, /*append=*/true);
          if (!opened) {
            return std::unexpected(
                Error{opened.error().code, config.PathOf("log") + ": " + opened.error().message});
          }
          c.log = *opened;
        }
        return std::make_unique<ExecGuardModule>(std::move(c));
      },
  };
}

}  // namespace hijack::modules
