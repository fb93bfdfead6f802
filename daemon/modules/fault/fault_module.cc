#include "daemon/modules/fault/fault_module.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "daemon/modules/fs_guard/guest_path.h"
#include "daemon/syscalls/syscall_args.h"
#include "hijack/unique_fd.h"

namespace hijack::modules {
namespace {

constexpr size_t kKeptHits = 64;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The calls `short` applies to: they move args[2] bytes at args[1] through descriptor args[0].
bool IsRead(int nr) {
  return nr == SCMP_SYS(read) || nr == SCMP_SYS(pread64) || nr == SCMP_SYS(recvfrom);
}
bool IsWrite(int nr) {
  return nr == SCMP_SYS(write) || nr == SCMP_SYS(pwrite64) || nr == SCMP_SYS(sendto);
}

}  // namespace

bool FaultModule::Draw(uint64_t k) const {
  if (config_.probability >= 1.0) {
    return true;
  }
  uint64_t r = SplitMix64(config_.seed ^ SplitMix64(k));
  // 53 bits of the draw as a double in [0, 1).
  return static_cast<double>(r >> 11) * 0x1.0p-53 < config_.probability;
}

std::optional<std::string> FaultModule::PathOf(const SyscallEvent& ev, GuestMemory& mem) const {
  GuestPathResolver resolver(ev, mem);
  if (std::optional<syscalls::PathArg> arg = syscalls::PrimaryPath(ev)) {
    auto path = mem.ReadString(arg->addr, PATH_MAX);
    if (!path) {
      return std::nullopt;
    }
    auto r = resolver.Resolve(arg->dirfd, *path, ResolveOptions());
    return r ? std::optional(r->path) : std::nullopt;
  }
  if (std::optional<int> fd = syscalls::FdArg(ev)) {
    ResolveOptions o;
    o.empty_path = true;
    auto r = resolver.Resolve(*fd, "", o);
    return r ? std::optional(r->path) : std::nullopt;
  }
  return std::nullopt;
}

UniqueFd FaultModule::ReadyDescriptor(const SyscallEvent& ev, GuestMemory& mem) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, ev.pid, 0)));
  // Opened by number: the caller's process only if the call is still pending now (a pidfd is
  // bound to its process from then on).
  if (!pidfd.valid() || !mem.StillPending()) {
    return UniqueFd();
  }
  UniqueFd fd(
      static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), static_cast<int>(ev.args[0]), 0)));
  if (!fd.valid()) {
    // EBADF: the guest's own mistake, which the call itself will report. Anything else (EPERM
    // under a container profile that allows pidfd_getfd only with CAP_SYS_PTRACE) means no short
    // transfer can be made here: say so once, and count every one skipped.
    if (errno != EBADF) {
      const int err = errno;
      std::lock_guard lock(mu_);
      if (untakable_++ == 0) {
        untakable_reason_ = fmt::format("pidfd_getfd: {}", std::strerror(err));
        spdlog::warn("fault: cannot shorten transfers in guest {} ({}); such calls run unfaulted",
                     ev.guest_id, untakable_reason_);
      }
    }
    return UniqueFd();
  }
  // The supervisor's loop must not block in the guest's transfer.
  pollfd p{fd.get(), static_cast<short>(IsRead(ev.nr) ? POLLIN : POLLOUT), 0};
  if (poll(&p, 1, 0) != 1 || (p.revents & (IsRead(ev.nr) ? POLLIN : POLLOUT)) == 0) {
    return UniqueFd();
  }
  return fd;
}

Decision FaultModule::ShortTransfer(const SyscallEvent& ev, GuestMemory& mem, const UniqueFd& fd) {
  const size_t n = static_cast<size_t>(*config_.short_count);
  std::vector<std::byte> buf(n);
  ssize_t done = -1;
  if (IsWrite(ev.nr)) {
    auto got = mem.Read(ev.args[1], buf);
    if (!got) {
      return Decision::Fail(got.error().code == EFAULT ? EFAULT : EIO);
    }
    if (ev.nr == SCMP_SYS(pwrite64)) {
      done = pwrite(fd.get(), buf.data(), *got, static_cast<off_t>(ev.args[3]));
    } else if (ev.nr == SCMP_SYS(sendto)) {
      done = sendto(fd.get(), buf.data(), *got, static_cast<int>(ev.args[3]) | MSG_DONTWAIT,
                    nullptr, 0);
    } else {
      done = write(fd.get(), buf.data(), *got);
    }
  } else {
    if (ev.nr == SCMP_SYS(pread64)) {
      done = pread(fd.get(), buf.data(), n, static_cast<off_t>(ev.args[3]));
    } else if (ev.nr == SCMP_SYS(recvfrom)) {
      done = recvfrom(fd.get(), buf.data(), n, static_cast<int>(ev.args[3]) | MSG_DONTWAIT, nullptr,
                      nullptr);
    } else {
      done = read(fd.get(), buf.data(), n);
    }
    if (done > 0) {
      iovec local{buf.data(), static_cast<size_t>(done)};
      iovec remote{reinterpret_cast<void*>(ev.args[1]), static_cast<size_t>(done)};
      if (process_vm_writev(ev.tid, &local, 1, &remote, 1, 0) != done) {
        return Decision::Fail(EFAULT);
      }
    }
  }
  if (done < 0) {
    return Decision::Fail(errno);
  }
  return Decision::Return(done);
}

std::optional<Decision> FaultModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  if (config_.short_count && !(IsRead(ev.nr) || IsWrite(ev.nr))) {
    return std::nullopt;
  }
  if (config_.short_count && ev.args[2] <= *config_.short_count) {
    return std::nullopt;  // nothing to shorten
  }
  if (config_.short_count && (ev.nr == SCMP_SYS(recvfrom) || ev.nr == SCMP_SYS(sendto)) &&
      ev.args[4] != 0) {
    return std::nullopt;  // the peer's address is not emulated
  }
  UniqueFd ready;
  if (config_.short_count) {
    ready = ReadyDescriptor(ev, mem);
    if (!ready.valid()) {
      return std::nullopt;  // a transfer that would block is not eligible
    }
  }
  if (config_.path) {
    auto path = PathOf(ev, mem);
    if (!path || !config_.path->Matches(*path)) {
      return std::nullopt;
    }
  }
  uint64_t k;
  {
    std::lock_guard lock(mu_);
    k = eligible_++;
    if (k < config_.after || (k - config_.after) % config_.every != 0 ||
        hits_ >= config_.times || !Draw(k)) {
      return std::nullopt;
    }
    ++hits_;
    if (hit_indexes_.size() < kKeptHits) {
      hit_indexes_.push_back(k);
    }
  }
  if (config_.short_count) {
    return ShortTransfer(ev, mem, ready);
  }
  return config_.retval ? Decision::Return(*config_.retval) : Decision::Fail(config_.err);
}

nlohmann::json FaultModule::Stats() const {
  std::lock_guard lock(mu_);
  nlohmann::json out = {{"eligible", eligible_},
                        {"hits", hits_},
                        {"hit_indexes", hit_indexes_},
                        {"seed", config_.seed}};
  if (untakable_ > 0) {
    out["not_shortened"] = untakable_;
    out["not_shortened_reason"] = untakable_reason_;
  }
  return out;
}

std::string FaultModule::Report() const {
  std::lock_guard lock(mu_);
  std::string out = fmt::format("seed {}: {} of {} eligible calls hit; first hits at calls {}\n",
                                config_.seed, hits_, eligible_, hit_indexes_);
  if (untakable_ > 0) {
    out += fmt::format("{} transfers could not be shortened ({})\n", untakable_, untakable_reason_);
  }
  return out;
}

policy::ModuleInfo FaultModule::Info() {
  return {
      .name = "fault",
      .summary = "inject errnos or short reads/writes into chosen calls, replayable by seed",
      .settings = {policy::setting::Syscalls("syscall",
                                             "the call to fault (give this or syscalls)"),
                   policy::setting::Syscalls("syscalls",
                                             "the calls to fault, names or %classes (give this "
                                             "or syscall)"),
                   policy::setting::Errno("the errno injected", "EIO"),
                   policy::setting::Integer("short",
                                            "instead of an errno: make read, pread64, recvfrom, "
                                            "write, pwrite64 and sendto transfer at most this "
                                            "many bytes")
                       .Range(0),
                   policy::setting::Text("path",
                                         "only calls whose resolved path (or descriptor's file) "
                                         "matches this path pattern"),
                   policy::setting::Number("probability",
                                           "chance that an eligible call is hit")
                       .Range(0, 1)
                       .Default(1),
                   policy::setting::Integer("seed", "seed of the draws").Range(0).Default(0),
                   policy::setting::Integer("after",
                                            "eligible calls let through before any is hit")
                       .Range(0)
                       .Default(0),
                   policy::setting::Integer("times", "at most this many hits (default unlimited)")
                       .Range(0),
                   policy::setting::Integer("every",
                                            "from `after` on, only every this-many-th eligible "
                                            "call may be hit")
                       .Range(1)
                       .Default(1),
                   policy::setting::Integer("retval",
                                            "instead of an errno: the call does not run and "
                                            "returns this value")},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        Config c;
        HIJACK_ASSIGN_OR_RETURN(auto one, config.Syscalls("syscall"));
        HIJACK_ASSIGN_OR_RETURN(auto many, config.Syscalls("syscalls"));
        if (one.has_value() == many.has_value()) {
          return MakeError(config.path() + ": give exactly one of syscall or syscalls");
        }
        c.syscalls = one ? *one : *many;
        HIJACK_ASSIGN_OR_RETURN(c.err, config.Errno("errno", EIO));
        HIJACK_ASSIGN_OR_RETURN(auto short_count, config.Integer("short"));
        if (short_count) {
          if (config.Has("errno")) {
            return MakeError(config.PathOf("short") + ": give errno or short, not both");
          }
          if (*short_count < 0) {
            return MakeError(config.PathOf("short") + ": expected a byte count >= 0");
          }
          c.short_count = static_cast<uint64_t>(*short_count);
          bool any = false;
          for (int nr : c.syscalls.Numbers()) {
            any = any || IsRead(nr) || IsWrite(nr);
          }
          if (!any) {
            return MakeError(config.PathOf("short") +
                             ": applies to read, pread64, recvfrom, write, pwrite64, sendto; "
                             "none is in the syscalls");
          }
        }
        HIJACK_ASSIGN_OR_RETURN(auto path, config.String("path"));
        if (path) {
          auto p = PathPattern::Parse(*path);
          if (!p) {
            return MakeError(config.PathOf("path") + ": " + p.error().message);
          }
          c.path = std::move(*p);
        }
        HIJACK_ASSIGN_OR_RETURN(auto prob, config.Number("probability"));
        if (prob && (*prob < 0 || *prob > 1)) {
          return MakeError(config.PathOf("probability") + ": expected a number in 0..1");
        }
        c.probability = prob.value_or(1.0);
        for (const char* key : {"seed", "after", "times"}) {
          HIJACK_ASSIGN_OR_RETURN(auto v, config.Integer(key));
          if (v && *v < 0) {
            return MakeError(config.PathOf(key) + ": expected an integer >= 0");
          }
          if (v) {
            uint64_t u = static_cast<uint64_t>(*v);
            std::string_view k = key;
            (k == "seed" ? c.seed : k == "after" ? c.after : c.times) = u;
          }
        }
        HIJACK_ASSIGN_OR_RETURN(auto every, config.Integer("every"));
        if (every) {
          if (*every < 1) {
            return MakeError(config.PathOf("every") + ": expected an integer >= 1");
          }
          c.every = static_cast<uint64_t>(*every);
        }
        HIJACK_ASSIGN_OR_RETURN(c.retval, config.Integer("retval"));
        if (c.retval && (config.Has("errno") || short_count)) {
          return MakeError(config.PathOf("retval") + ": give one of errno, short and retval");
        }
        return std::make_unique<FaultModule>(std::move(c));
      },
  };
}

}  // namespace hijack::modules
