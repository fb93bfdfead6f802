#include "daemon/modules/fs_guard/fs_guard_module.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/modules/fs_guard/guest_credentials.h"
#include "daemon/modules/fs_guard/guest_path.h"

namespace hijack::modules {
namespace {

// Races a strict-mode create may lose (the name appeared, or became a symlink, between the
// walk and the create) before the call fails closed.
constexpr int kStrictAttempts = 4;

// The calls each access kind is checked on, and why.
struct KindCalls {
  uint8_t kind;
  std::initializer_list<int> calls;
};
const KindCalls kKindCalls[] = {
    // open's access mode and O_TRUNC; truncate(2) writes.
    {kAccessRead, {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2)}},
    {kAccessWrite,
     {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat), SCMP_SYS(truncate)}},
    // Calls that add a name to a directory.
    {kAccessCreate,
     {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat), SCMP_SYS(mkdir),
      SCMP_SYS(mkdirat), SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(link), SCMP_SYS(linkat),
      SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
      SCMP_SYS(renameat2)}},
    {kAccessExec, {SCMP_SYS(execve), SCMP_SYS(execveat)}},
    // Calls that remove a name from a directory.
    {kAccessUnlink,
     {SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rmdir), SCMP_SYS(rename), SCMP_SYS(renameat),
      SCMP_SYS(renameat2)}},
};

uint8_t OpenAccess(uint64_t flags) {
  uint8_t a = 0;
  switch (flags & O_ACCMODE) {
    case O_WRONLY:
      a = kAccessWrite;
      break;
    case O_RDWR:
      a = kAccessRead | kAccessWrite;
      break;
    default:
      a = kAccessRead;
  }
  if (flags & O_TRUNC) {
    a |= kAccessWrite;
  }
  if ((flags & __O_TMPFILE) == __O_TMPFILE) {
    a |= kAccessCreate | kAccessWrite;
  }
  return a;
}

int Dirfd(uint64_t arg) { return static_cast<int>(static_cast<int32_t>(arg)); }

// Resolution errors that the kernel would return to the guest for the same walk.
bool IsGuestVisible(int err) { return err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG; }

Result<uint8_t> ParseAccess(const std::vector<std::string>& names, const std::string& path) {
  uint8_t a = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    if (n == "read") {
      a |= kAccessRead;
    } else if (n == "write") {
      a |= kAccessWrite;
    } else if (n == "create") {
      a |= kAccessCreate;
    } else if (n == "exec") {
      a |= kAccessExec;
    } else if (n == "unlink") {
      a |= kAccessUnlink;
    } else {
      return MakeError(fmt::format(
          "{}/{}: unknown access \"{}\" (known: read, write, create, exec, unlink)", path, i, n));
    }
  }
  return a;
}

}  // namespace

FsGuardModule::FsGuardModule(Config config) : config_(std::move(config)) {
  for (const Rule& r : config_.rules) {
    if (!r.allow) {
      deniable_ |= r.access;
    }
  }
  if (!config_.default_allow || config_.beneath) {
    deniable_ = kAccessAll;
  }
  for (const auto& k : kKindCalls) {
    if (deniable_ & k.kind) {
      for (int nr : k.calls) {
        syscalls_.Add(nr);
      }
    }
  }
}

bool FsGuardModule::Allows(const std::string& path, uint8_t access) const {
  if (path.empty() || path[0] != '/') {
    return true;  // a pipe or socket re-opened through /proc/PID/fd: not a file-system access
  }
  // Every kind the call needs must be allowed on its own.
  for (uint8_t kind = 1; kind <= kAccessUnlink; kind = static_cast<uint8_t>(kind << 1)) {
    if ((access & kind) == 0) {
      continue;
    }
    bool allowed = config_.default_allow;
    for (const Rule& r : config_.rules) {
      if ((r.access & kind) && AnyMatches(r.patterns, path)) {
        allowed = r.allow;
        break;
      }
    }
    if (!allowed) {
      return false;
    }
  }
  return true;
}

Decision FsGuardModule::Deny() {
  denied_.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(config_.err);
}

std::optional<Decision> FsGuardModule::Check(const SyscallEvent& ev, GuestMemory& mem,
                                             const Operand& op) {
  if (!CanDeny(op.access)) {
    return std::nullopt;
  }
  auto path = mem.ReadString(op.path_addr, PATH_MAX);
  if (!path) {
    // EFAULT is what the kernel would answer; anything else fails closed.
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(path.error().code == EFAULT ? EFAULT : config_.err);
  }
  GuestPathResolver resolver(ev, mem);
  ResolveOptions options;
  options.follow_last = op.follow;
  options.beneath = config_.beneath;
  options.empty_path = op.empty_path;
  auto resolved = resolver.Resolve(op.dirfd, *path, options);
  if (!resolved) {
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(IsGuestVisible(resolved.error().code) ? resolved.error().code
                                                                : config_.err);
  }
  uint8_t access = op.access;
  if (access & kAccessCreate) {
    // An open with O_CREAT only creates when the name does not exist yet.
    if (resolved->exists && (ev.nr == SCMP_SYS(open) || ev.nr == SCMP_SYS(openat) ||
                             ev.nr == SCMP_SYS(openat2) || ev.nr == SCMP_SYS(creat))) {
      access &= static_cast<uint8_t>(~kAccessCreate);
    }
  }
  if (!Allows(resolved->path, access)) {
    return Deny();
  }
  return std::nullopt;
}

std::optional<Decision> FsGuardModule::OpenStrict(const SyscallEvent& ev, GuestMemory& mem,
                                                  int dirfd, uint64_t path_addr, uint64_t flags,
                                                  uint64_t mode) {
  auto path = mem.ReadString(path_addr, PATH_MAX);
  if (!path) {
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(path.error().code == EFAULT ? EFAULT : config_.err);
  }
  auto creds = GuestCredentials::Assume(ev.tid);
  // Read from /proc/TID/status by number: the caller's only if its call is still pending.
  if (!creds || !mem.StillPending()) {
    unresolved_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(config_.err);
  }
  const bool cloexec = (flags & O_CLOEXEC) != 0;
  const bool excl_create = (flags & O_CREAT) && (flags & O_EXCL);
  GuestPathResolver resolver(ev, mem);
  for (int attempt = 0; attempt < kStrictAttempts; ++attempt) {
    ResolveOptions options;
    options.follow_last = !(flags & O_NOFOLLOW) && !excl_create;
    options.beneath = config_.beneath;
    auto r = resolver.Resolve(dirfd, *path, options);
    if (!r) {
      unresolved_.fetch_add(1, std::memory_order_relaxed);
      return Decision::Fail(IsGuestVisible(r.error().code) ? r.error().code : config_.err);
    }
    if (r->exists) {
      if (excl_create) {
        return Decision::Fail(EEXIST);
      }
      if (!Allows(r->path, OpenAccess(flags))) {
        return Deny();
      }
      struct stat st {};
      if (fstat(r->fd.get(), &st) != 0) {
        return Decision::Fail(config_.err);
      }
      if ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode) && (flags & __O_TMPFILE) != __O_TMPFILE) {
        return Decision::Fail(ENOTDIR);
      }
      if (flags & O_PATH) {
        injected_.fetch_add(1, std::memory_order_relaxed);
        allowed_.fetch_add(1, std::memory_order_relaxed);
        return Decision::InjectFd(std::make_shared<const UniqueFd>(std::move(r->fd)), cloexec);
      }
      if (S_ISLNK(st.st_mode)) {
        return Decision::Fail(ELOOP);  // O_NOFOLLOW on a symlink
      }
      // Re-open the very inode the walk found (not the name, which may have changed since),
      // with the guest's flags and credentials. A FIFO is opened without blocking the loop.
      uint64_t reopen =
          (flags & ~static_cast<uint64_t>(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC | O_NOCTTY;
      const bool fifo = S_ISFIFO(st.st_mode);
      if (fifo) {
        reopen |= O_NONBLOCK;
      }
      std::string self = fmt::format("/proc/self/fd/{}", r->fd.get());
      UniqueFd fd(open(self.c_str(), static_cast<int>(reopen)));
      if (!fd.valid()) {
        return Decision::Fail(errno);
      }
      if (fifo && !(flags & O_NONBLOCK)) {
        fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
      }
      injected_.fetch_add(1, std::memory_order_relaxed);
      allowed_.fetch_add(1, std::memory_order_relaxed);
      return Decision::InjectFd(std::make_shared<const UniqueFd>(std::move(fd)), cloexec);
    }
    if (!(flags & O_CREAT)) {
      return Decision::Fail(ENOENT);
    }
    if (!Allows(r->path, static_cast<uint8_t>(OpenAccess(flags) | kAccessCreate))) {
      return Deny();
    }
    // Create in the directory the walk found, refusing any symlink: a name that appeared or
    // turned into a link since the walk sends us round again.
    const auto perms = static_cast<mode_t>(mode & 07777 & ~creds->umask());
    open_how how{};
    how.flags = flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    how.mode = perms;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(
        static_cast<int>(syscall(SYS_openat2, r->parent.get(), r->name.c_str(), &how, sizeof how)));
    if (fd.valid()) {
      fchmod(fd.get(), perms);  // the guest's umask, not the supervisor's
      injected_.fetch_add(1, std::memory_order_relaxed);
      allowed_.fetch_add(1, std::memory_order_relaxed);
      return Decision::InjectFd(std::make_shared<const UniqueFd>(std::move(fd)), cloexec);
    }
    if (errno != EEXIST && errno != ELOOP) {
      return Decision::Fail(errno);
    }
  }
  unresolved_.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(config_.err);
}

std::optional<Decision> FsGuardModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  const auto& a = ev.args;
  const int nr = ev.nr;
  // Opens: the access kinds come from the flags.
  std::optional<Operand> open_op;
  uint64_t flags = 0, mode = 0;
  if (nr == SCMP_SYS(open)) {
    flags = a[1];
    mode = a[2];
    open_op = Operand{AT_FDCWD, a[0], 0, true};
  } else if (nr == SCMP_SYS(openat)) {
    flags = a[2];
    mode = a[3];
    open_op = Operand{Dirfd(a[0]), a[1], 0, true};
  } else if (nr == SCMP_SYS(creat)) {
    flags = O_CREAT | O_WRONLY | O_TRUNC;
    mode = a[1];
    open_op = Operand{AT_FDCWD, a[0], 0, true};
  } else if (nr == SCMP_SYS(openat2)) {
    open_how how{};
    auto got = mem.Read(a[2], std::as_writable_bytes(std::span(&how, 1)));
    if (!got || *got < sizeof how) {
      unresolved_.fetch_add(1, std::memory_order_relaxed);
      return Decision::Fail(got ? EINVAL : (got.error().code == EFAULT ? EFAULT : config_.err));
    }
    if (how.resolve & RESOLVE_IN_ROOT) {
      // The walk would be confined to a root the guest names; not modelled: fail closed.
      unresolved_.fetch_add(1, std::memory_order_relaxed);
      return Decision::Fail(config_.err);
    }
    flags = how.flags;
    mode = how.mode;
    open_op = Operand{Dirfd(a[0]), a[1], 0, true};
  }
  if (open_op) {
    const uint8_t possible =
        static_cast<uint8_t>(OpenAccess(flags) | ((flags & O_CREAT) ? kAccessCreate : 0));
    if (!CanDeny(possible)) {
      return std::nullopt;
    }
    if (config_.mode == Mode::kStrict) {
      return OpenStrict(ev, mem, open_op->dirfd, open_op->path_addr, flags, mode);
    }
    open_op->access = possible;
    open_op->follow = !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL));
    auto d = Check(ev, mem, *open_op);
    if (!d) {
      allowed_.fetch_add(1, std::memory_order_relaxed);
    }
    return d;
  }

  std::vector<Operand> ops;
  if (nr == SCMP_SYS(execve)) {
    ops.push_back({AT_FDCWD, a[0], kAccessExec, true});
  } else if (nr == SCMP_SYS(execveat)) {
    ops.push_back({Dirfd(a[0]), a[1], kAccessExec, !(a[4] & AT_SYMLINK_NOFOLLOW),
                   (a[4] & AT_EMPTY_PATH) != 0});
  } else if (nr == SCMP_SYS(truncate)) {
    ops.push_back({AT_FDCWD, a[0], kAccessWrite, true});
  } else if (nr == SCMP_SYS(unlink) || nr == SCMP_SYS(rmdir)) {
    ops.push_back({AT_FDCWD, a[0], kAccessUnlink, false});
  } else if (nr == SCMP_SYS(unlinkat)) {
    ops.push_back({Dirfd(a[0]), a[1], kAccessUnlink, false});
  } else if (nr == SCMP_SYS(mkdir) || nr == SCMP_SYS(mknod)) {
    ops.push_back({AT_FDCWD, a[0], kAccessCreate, false});
  } else if (nr == SCMP_SYS(mkdirat) || nr == SCMP_SYS(mknodat)) {
    ops.push_back({Dirfd(a[0]), a[1], kAccessCreate, false});
  } else if (nr == SCMP_SYS(link)) {
    ops.push_back({AT_FDCWD, a[1], kAccessCreate, false});
  } else if (nr == SCMP_SYS(linkat)) {
    ops.push_back({Dirfd(a[2]), a[3], kAccessCreate, false});
  } else if (nr == SCMP_SYS(symlink)) {
    ops.push_back({AT_FDCWD, a[1], kAccessCreate, false});
  } else if (nr == SCMP_SYS(symlinkat)) {
    ops.push_back({Dirfd(a[1]), a[2], kAccessCreate, false});
  } else if (nr == SCMP_SYS(rename)) {
    ops.push_back({AT_FDCWD, a[0], kAccessUnlink, false});
    ops.push_back({AT_FDCWD, a[1], kAccessCreate, false});
  } else if (nr == SCMP_SYS(renameat) || nr == SCMP_SYS(renameat2)) {
    ops.push_back({Dirfd(a[0]), a[1], kAccessUnlink, false});
    ops.push_back({Dirfd(a[2]), a[3], kAccessCreate, false});
  }
  for (const Operand& op : ops) {
    if (auto d = Check(ev, mem, op)) {
      return d;
    }
  }
  allowed_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

nlohmann::json FsGuardModule::Stats() const {
  return {{"mode", config_.mode == Mode::kStrict ? "strict" : "check"},
          {"allowed", allowed_.load(std::memory_order_relaxed)},
          {"denied", denied_.load(std::memory_order_relaxed)},
          {"unresolved", unresolved_.load(std::memory_order_relaxed)},
          {"injected", injected_.load(std::memory_order_relaxed)}};
}

policy::ModuleInfo FsGuardModule::Info() {
  return {
      .name = "fs_guard",
      .summary = "allow or deny file-system calls by resolved path and kind of access",
      .settings =
          {{"rules",
            "ordered list of {\"allow\"|\"deny\": [patterns], \"access\": [read, write, create, "
            "exec, unlink]}; the first match decides"},
           {"deny", "patterns denied for every access (after rules)"},
           {"allow", "patterns allowed for every access (after rules and deny)"},
           {"default",
            "\"allow\" or \"deny\" when no rule matches (default: deny if any allow "
            "rule exists, else allow)"},
           {"mode",
            "\"check\" (default) or \"strict\" (notify backend only: the supervisor opens "
            "and injects the descriptor)"},
           {"beneath", "guest directory every path must resolve beneath (RESOLVE_BENEATH)"},
           {"errno", "errno of denied calls (default EACCES)"}},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        Config c;
        bool any_allow = false;
        if (const nlohmann::json* rules = config.Raw("rules")) {
          const std::string base = config.PathOf("rules");
          if (!rules->is_array()) {
            return MakeError(fmt::format("{}: expected a list of rule objects, got {}", base,
                                         rules->type_name()));
          }
          for (size_t i = 0; i < rules->size(); ++i) {
            const std::string path = fmt::format("{}/{}", base, i);
            policy::ConfigReader rule((*rules)[i], path);
            if (!(*rules)[i].is_object()) {
              return MakeError(path + ": expected a rule object");
            }
            auto allow = rule.StringList("allow");
            auto deny = rule.StringList("deny");
            auto access = rule.StringList("access");
            for (auto* r : {&allow, &deny, &access}) {
              if (!*r) {
                return std::unexpected(r->error());
              }
            }
            if (allow->has_value() == deny->has_value()) {
              return MakeError(path + ": a rule has exactly one of \"allow\" or \"deny\"");
            }
            Rule out;
            out.allow = allow->has_value();
            auto patterns = ParsePatterns(out.allow ? **allow : **deny,
                                          rule.PathOf(out.allow ? "allow" : "deny"));
            if (!patterns) {
              return std::unexpected(patterns.error());
            }
            out.patterns = std::move(*patterns);
            if (*access) {
              auto kinds = ParseAccess(**access, rule.PathOf("access"));
              if (!kinds) {
                return std::unexpected(kinds.error());
              }
              out.access = *kinds;
            }
            if (auto done = rule.Finish(); !done) {
              return std::unexpected(done.error());
            }
            any_allow = any_allow || out.allow;
            c.rules.push_back(std::move(out));
          }
        }
        for (const char* key : {"deny", "allow"}) {
          auto list = config.StringList(key);
          if (!list) {
            return std::unexpected(list.error());
          }
          if (*list) {
            auto patterns = ParsePatterns(**list, config.PathOf(key));
            if (!patterns) {
              return std::unexpected(patterns.error());
            }
            c.rules.push_back(
                Rule{std::string_view(key) == "allow", kAccessAll, std::move(*patterns)});
            any_allow = any_allow || std::string_view(key) == "allow";
          }
        }
        auto def = config.String("default");
        if (!def) {
          return std::unexpected(def.error());
        }
        c.default_allow = !any_allow;
        if (*def) {
          if (**def != "allow" && **def != "deny") {
            return MakeError(config.PathOf("default") + ": expected \"allow\" or \"deny\", got \"" +
                             **def + "\"");
          }
          c.default_allow = **def == "allow";
        }
        auto mode = config.String("mode");
        if (!mode) {
          return std::unexpected(mode.error());
        }
        if (*mode && **mode != "check" && **mode != "strict") {
          return MakeError(config.PathOf("mode") + ": expected \"check\" or \"strict\", got \"" +
                           **mode + "\"");
        }
        c.mode = (*mode && **mode == "strict") ? Mode::kStrict : Mode::kCheck;
        auto beneath = config.String("beneath");
        if (!beneath) {
          return std::unexpected(beneath.error());
        }
        if (*beneath) {
          if (beneath->value().empty() || beneath->value()[0] != '/') {
            return MakeError(config.PathOf("beneath") + ": expected an absolute directory");
          }
          std::string b = **beneath;
          while (b.size() > 1 && b.back() == '/') {
            b.pop_back();
          }
          c.beneath = b;
        }
        auto err = config.Errno("errno", EACCES);
        if (!err) {
          return std::unexpected(err.error());
        }
        c.err = *err;
        if (c.rules.empty() && c.default_allow && !c.beneath) {
          return MakeError(config.path() +
                           ": fs_guard needs at least one of rules, deny, allow, default, beneath");
        }
        return std::make_unique<FsGuardModule>(std::move(c));
      },
  };
}

}  // namespace hijack::modules
