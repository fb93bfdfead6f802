#include "daemon/modules/fs_guard/guest_path.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hijack::modules {
namespace {

// The kernel's limit on symlinks followed in one walk (MAXSYMLINKS).
constexpr int kMaxLinks = 40;

int OpenAt2(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// Splits off the final component, as the kernel sees it (trailing slashes belong to it).
void SplitLast(const std::string& path, std::string& dir, std::string& name) {
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) {
    dir = "/";
    name.clear();
    return;
  }
  size_t slash = path.rfind('/', end);
  name = path.substr(slash == std::string::npos ? 0 : slash + 1,
                     slash == std::string::npos ? end + 1 : end - slash);
  if (slash == std::string::npos) {
    dir = ".";
  } else if (slash == 0) {
    dir = "/";
  } else {
    dir = path.substr(0, slash);
  }
}

}  // namespace

Result<std::string> FdPath(int fd) {
  char buf[PATH_MAX + 1];
  std::string link = fmt::format("/proc/self/fd/{}", fd);
  ssize_t n = readlink(link.c_str(), buf, PATH_MAX);
  if (n < 0) {
    return ErrnoError(errno, "readlink " + link);
  }
  return std::string(buf, static_cast<size_t>(n));
}

bool GuestPathResolver::IsOwnFdLink(const std::string& path) const {
  // /proc/PID/fd/N or /proc/PID/task/TID/fd/N of the calling guest, nothing after N.
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  for (const std::string& prefix :
       {fmt::format("/proc/{}/fd/", pid_), fmt::format("/proc/{}/task/{}/fd/", pid_, tid_)}) {
    if (path.starts_with(prefix) && digits(std::string_view(path).substr(prefix.size()))) {
      return true;
    }
  }
  return false;
}

Result<void> GuestPathResolver::OpenRoot() {
  if (root_.valid()) {
    return {};
  }
  std::string root = fmt::format("/proc/{}/root", tid_);
  root_.reset(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_.valid()) {
    return ErrnoError(errno == ENOENT ? ESRCH : errno, "open " + root);
  }
  struct stat theirs {
  }, ours{};
  if (fstat(root_.get(), &theirs) != 0 || stat("/", &ours) != 0) {
    return ErrnoError(errno, "stat " + root);
  }
  root_is_ours_ = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
  if (!root_is_ours_) {
    auto prefix = FdPath(root_.get());
    if (!prefix) {
      return std::unexpected(prefix.error());
    }
    root_prefix_ = *prefix;
  }
  return {};
}

Result<void> GuestPathResolver::ConfirmName(int fd, const std::string& guest_path) {
  UniqueFd by_name(OpenAt2(root_.get(), guest_path, O_PATH | O_NOFOLLOW,
                           RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
  struct stat held {
  }, named{};
  if (by_name.valid() && fstat(fd, &held) == 0 && fstat(by_name.get(), &named) == 0 &&
      held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
    return {};
  }
  return ErrnoError(ESTALE, fmt::format("{} names no file of guest thread {} by that name (deleted, "
                                        "or in a detached or foreign mount)",
                                        guest_path, tid_));
}

Result<std::string> GuestPathResolver::GuestPathOf(int fd, bool confirm) {
  auto real = FdPath(fd);
  if (!real) {
    return real;
  }
  std::string guest;
  if (root_is_ours_) {
    guest = std::move(*real);
  } else if (*real == root_prefix_) {
    guest = "/";
  } else if (real->starts_with(root_prefix_ + "/")) {
    guest = real->substr(root_prefix_.size());
  } else {
    return MakeError(fmt::format("{} is outside the guest's root {}", *real, root_prefix_));
  }
  // d_path(9) appends " (deleted)" to an unlinked file's last name: no name leads to it.
  if (!guest.empty() && guest[0] == '/' && (confirm || guest.ends_with(" (deleted)"))) {
    HIJACK_TRY(ConfirmName(fd, guest));
  }
  return guest;
}

Result<ResolvedPath> GuestPathResolver::Resolve(int dirfd, std::string path,
                                                const ResolveOptions& options) {
  auto r = ResolveUnconfirmed(dirfd, std::move(path), options);
  // Every lookup above went through the caller's numbers; they were the caller's only if it is
  // still waiting now.
  if (r && !caller_.StillPending()) {
    return ErrnoError(ESRCH, "thread " + std::to_string(tid_) + " left its call");
  }
  return r;
}

Result<ResolvedPath> GuestPathResolver::ResolveUnconfirmed(int dirfd, std::string path,
                                                           const ResolveOptions& options) {
  if (auto ok = OpenRoot(); !ok) {
    return std::unexpected(ok.error());
  }
  if (path.empty()) {
    if (!options.empty_path) {
      return ErrnoError(ENOENT, "empty path");
    }
    std::string fd_link = dirfd == AT_FDCWD ? fmt::format("/proc/{}/cwd", tid_)
                                            : fmt::format("/proc/{}/fd/{}", tid_, dirfd);
    ResolvedPath out;
    out.fd.reset(open(fd_link.c_str(), O_PATH | O_CLOEXEC));
    if (!out.fd.valid()) {
      return ErrnoError(errno == ENOENT ? EBADF : errno, "open " + fd_link);
    }
    auto p = GuestPathOf(out.fd.get(), /*confirm=*/true);
    if (!p) {
      return ErrnoError(p.error().code == ESTALE ? ESTALE : EXDEV, p.error().message);
    }
    out.path = std::move(*p);
    out.exists = true;
    return out;
  }
  // The guest's own procfs entries, not the supervisor's.
  auto rewrite = [&](std::string_view from, const std::string& to) {
    if (path.starts_with(from) && (path.size() == from.size() || path[from.size()] == '/')) {
      path = to + path.substr(from.size());
    }
  };
  rewrite("/proc/self", fmt::format("/proc/{}", pid_));
  rewrite("/proc/thread-self", fmt::format("/proc/{}/task/{}", pid_, tid_));
  // The conventional /dev links into /proc/self/fd (udev and systemd create them so).
  rewrite("/dev/fd", fmt::format("/proc/{}/fd", pid_));
  rewrite("/dev/stdin", fmt::format("/proc/{}/fd/0", pid_));
  rewrite("/dev/stdout", fmt::format("/proc/{}/fd/1", pid_));
  rewrite("/dev/stderr", fmt::format("/proc/{}/fd/2", pid_));
  if (options.follow_last && IsOwnFdLink(path)) {
    // One of the guest's own descriptors re-opened by name: the magic link leads to the object
    // the descriptor holds, which the supervisor reaches the same way.
    ResolvedPath out;
    out.fd.reset(open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!out.fd.valid()) {
      return ErrnoError(errno, "open " + path);
    }
    auto real = FdPath(out.fd.get());
    if (!real) {
      return std::unexpected(real.error());
    }
    if ((*real)[0] == '/') {
      auto p = GuestPathOf(out.fd.get(), /*confirm=*/true);
      if (!p) {
        return ErrnoError(p.error().code == ESTALE ? ESTALE : EXDEV, p.error().message);
      }
      real = std::move(*p);
    }
    out.path = std::move(*real);
    out.exists = true;
    return out;
  }

  // Where the walk starts, and how it is confined.
  const uint64_t base_resolve = RESOLVE_NO_MAGICLINKS | options.extra_resolve;
  UniqueFd start;
  uint64_t resolve = base_resolve;
  // A walk from a dirfd or the cwd ends where their names say only if they have names.
  bool confirm = false;
  if (path[0] != '/') {
    std::string dir = dirfd == AT_FDCWD ? fmt::format("/proc/{}/cwd", tid_)
                                        : fmt::format("/proc/{}/fd/{}", tid_, dirfd);
    start.reset(open(dir.c_str(), O_PATH | O_CLOEXEC));
    if (!start.valid()) {
      return ErrnoError(errno == ENOENT && dirfd != AT_FDCWD ? EBADF : errno, "open " + dir);
    }
    if (!root_is_ours_ || options.beneath) {
      // Relative to a directory inside a different root, or under `beneath`: walk the absolute
      // guest path from the root, so that ".." stops where the guest's would.
      auto p = GuestPathOf(start.get(), /*confirm=*/true);
      if (!p) {
        return ErrnoError(p.error().code == ESTALE ? ESTALE : EXDEV, p.error().message);
      }
      path = Join(*p, path);
    } else {
      confirm = true;
    }
  }
  // Re-targets the walk at absolute guest path `abs`.
  auto from_root = [&](const std::string& abs) -> Result<void> {
    if (options.beneath) {
      // RESOLVE_BENEATH from the confining directory: the walk fails with EXDEV if it leaves it.
      const std::string& b = *options.beneath;
      if (abs != b && !abs.starts_with(b == "/" ? b : b + "/")) {
        return ErrnoError(EXDEV, abs + " is not beneath " + b);
      }
      path = abs == b ? "." : abs.substr(b == "/" ? 1 : b.size() + 1);
      start.reset(OpenAt2(root_.get(), b, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | base_resolve));
      if (!start.valid()) {
        return ErrnoError(errno, "open " + b);
      }
      resolve = base_resolve | RESOLVE_BENEATH;
    } else {
      path = abs;
      start.reset(dup(root_.get()));
      resolve = base_resolve | RESOLVE_IN_ROOT;
    }
    confirm = false;
    return {};
  };
  if (path[0] == '/') {
    if (auto ok = from_root(path); !ok) {
      return std::unexpected(ok.error());
    }
  }

  if (options.parent) {
    return ResolveWithParent(start.get(), path, resolve, confirm);
  }
  for (int links = 0; links <= kMaxLinks; ++links) {
    const uint64_t last = options.follow_last ? 0 : O_NOFOLLOW;
    UniqueFd fd(OpenAt2(start.get(), path, O_PATH | last, resolve));
    if (fd.valid()) {
      auto guest = GuestPathOf(fd.get(), confirm);
      if (!guest) {
        return ErrnoError(guest.error().code == ESTALE ? ESTALE : EXDEV, guest.error().message);
      }
      ResolvedPath out;
      out.path = std::move(*guest);
      out.exists = true;
      out.fd = std::move(fd);
      return out;
    }
    if (errno != ENOENT) {
      return ErrnoError(errno, "resolve " + path);
    }
    // Something is missing: the final component (a file about to be created) or a directory
    // on the way (the call will fail with ENOENT, and so does the resolution).
    std::string dir, name;
    SplitLast(path, dir, name);
    if (name.empty() || name == "." || name == "..") {
      return ErrnoError(ENOENT, "resolve " + path);
    }
    UniqueFd parent(OpenAt2(start.get(), dir, O_PATH | O_DIRECTORY, resolve));
    if (!parent.valid()) {
      return ErrnoError(errno, "resolve " + dir);
    }
    auto dir_path = GuestPathOf(parent.get(), confirm);
    if (!dir_path) {
      return ErrnoError(dir_path.error().code == ESTALE ? ESTALE : EXDEV,
                        dir_path.error().message);
    }
    if (options.follow_last) {
      // A dangling symlink: the call (open with O_CREAT) acts on its target.
      char target[PATH_MAX + 1];
      ssize_t n = readlinkat(parent.get(), name.c_str(), target, PATH_MAX);
      if (n > 0) {
        std::string t(target, static_cast<size_t>(n));
        if (auto ok = from_root(t[0] == '/' ? t : Join(*dir_path, t)); !ok) {
          return std::unexpected(ok.error());
        }
        continue;
      }
    }
    ResolvedPath out;
    out.path = Join(*dir_path, name);
    out.parent = std::move(parent);
    out.name = std::move(name);
    return out;
  }
  return ErrnoError(ELOOP, "resolve " + path);
}

Result<ResolvedPath> GuestPathResolver::ResolveWithParent(int start, const std::string& path,
                                                         uint64_t resolve, bool confirm) {
  std::string dir, name;
  SplitLast(path, dir, name);
  ResolvedPath out;
  // The kernel walks to the parent first (path_parentat), so a missing directory on the way
  // answers before a final component that is no name.
  out.parent.reset(OpenAt2(start, dir, O_PATH | O_DIRECTORY, resolve));
  if (!out.parent.valid()) {
    return ErrnoError(errno, "resolve " + dir);
  }
  if (name.empty() || name == "." || name == "..") {
    // Each call answers such a name its own way (rename(2) EBUSY, link(2) EEXIST, rmdir(2)
    // EINVAL or ENOTEMPTY): the caller maps EBUSY to its call's answer.
    return ErrnoError(EBUSY, "resolve " + path + ": the last component is not a name");
  }
  auto dir_path = GuestPathOf(out.parent.get(), confirm);
  if (!dir_path) {
    return ErrnoError(dir_path.error().code == ESTALE ? ESTALE : EXDEV, dir_path.error().message);
  }
  // The name as the guest wrote it, trailing slashes included (the kernel's rename and link
  // apply them to the final component: it must then be a directory).
  const size_t tail = path.find_last_not_of('/');
  const size_t slash = path.rfind('/', tail);
  out.name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  // One component beneath a held directory: no symlink and no ".." can lead anywhere else.
  out.fd.reset(OpenAt2(out.parent.get(), name, O_PATH | O_NOFOLLOW,
                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
  if (!out.fd.valid() && errno != ENOENT) {
    return ErrnoError(errno, "resolve " + path);
  }
  out.exists = out.fd.valid();
  out.path = Join(*dir_path, name);
  return out;
}

}  // namespace hijack::modules
