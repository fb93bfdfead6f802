#include "daemon/launcher/landlock_ruleset.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "daemon/launcher/landlock_scope.h"

namespace hijack::launcher {
namespace {

// include/uapi/linux/landlock.h as of ABI 6; the distribution's header may be older. The kernel
// takes a larger struct than it knows when the extra fields are zero.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};
struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};
constexpr int kRulePathBeneath = 1;  // LANDLOCK_RULE_PATH_BENEATH
constexpr int kRuleNetPort = 2;      // LANDLOCK_RULE_NET_PORT

constexpr uint64_t kExecute = 1ULL << 0;
constexpr uint64_t kWriteFile = 1ULL << 1;
constexpr uint64_t kReadFile = 1ULL << 2;
constexpr uint64_t kReadDir = 1ULL << 3;
constexpr uint64_t kRemoveDir = 1ULL << 4;
constexpr uint64_t kRemoveFile = 1ULL << 5;
constexpr uint64_t kMakeChar = 1ULL << 6;
constexpr uint64_t kMakeDir = 1ULL << 7;
constexpr uint64_t kMakeReg = 1ULL << 8;
constexpr uint64_t kMakeSock = 1ULL << 9;
constexpr uint64_t kMakeFifo = 1ULL << 10;
constexpr uint64_t kMakeBlock = 1ULL << 11;
constexpr uint64_t kMakeSym = 1ULL << 12;
constexpr uint64_t kRefer = 1ULL << 13;
constexpr uint64_t kTruncate = 1ULL << 14;
// Rights that a rule on a file (not a directory) may carry.
constexpr uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate;

constexpr uint64_t kBindTcp = 1ULL << 0;     // LANDLOCK_ACCESS_NET_BIND_TCP
constexpr uint64_t kConnectTcp = 1ULL << 1;  // LANDLOCK_ACCESS_NET_CONNECT_TCP
constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
constexpr uint64_t kScopeSignal = 1ULL << 1;

uint64_t FsRights(uint32_t kinds, int abi) {
  uint64_t out = 0;
  if (kinds & kFloorRead) {
    out |= kReadFile | kReadDir;
  }
  if (kinds & kFloorWrite) {
    out |= kWriteFile | (abi >= kLandlockTruncateAbi ? kTruncate : 0);
  }
  if (kinds & kFloorCreate) {
    out |= kMakeReg | kMakeDir | kMakeSym | kMakeFifo | kMakeSock | kMakeChar | kMakeBlock |
           kRemoveFile | kRemoveDir | (abi >= kLandlockReferAbi ? kRefer : 0);
  }
  if (kinds & kFloorUnlink) {
    out |= kRemoveFile | kRemoveDir | (abi >= kLandlockReferAbi ? kRefer : 0);
  }
  if (kinds & kFloorExec) {
    out |= kExecute;
  }
  return out;
}

// What a tree granting `kinds` allows: execve(2) opens the program and its interpreter for
// reading too, so exec brings READ_FILE where the floor handles it (it never makes it handled:
// an exec floor alone must not confine reads).
uint64_t GrantedRights(uint32_t kinds, int abi) {
  return FsRights(kinds, abi) | ((kinds & kFloorExec) ? kReadFile : 0);
}

void MoveFsToModule(KernelFloor& floor, const std::string& reason) {
  for (const KernelFloor::Tree& t : floor.trees) {
    floor.module_only.push_back({t.rule, reason});
  }
  floor.trees.clear();
  floor.fs_handled = 0;
}

// The ELF interpreter named by the PT_INTERP header of `path`, or "".
std::string ElfInterpreter(int fd) {
  Elf64_Ehdr eh{};
  if (pread(fd, &eh, sizeof eh, 0) != sizeof eh || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return {};
  }
  for (int i = 0; i < eh.e_phnum && i < 256; ++i) {
    Elf64_Phdr ph{};
    if (pread(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != sizeof ph) {
      return {};
    }
    if (ph.p_type == PT_INTERP && ph.p_filesz > 1 && ph.p_filesz < 4096) {
      std::string interp(ph.p_filesz, '\0');
      if (pread(fd, interp.data(), interp.size(), static_cast<off_t>(ph.p_offset)) !=
          static_cast<ssize_t>(interp.size())) {
        return {};
      }
      interp.resize(std::strlen(interp.c_str()));
      return interp;
    }
  }
  return {};
}

}  // namespace

KernelFloor FitFloorToAbi(KernelFloor floor, int abi) {
  if (abi < kLandlockFsAbi) {
    MoveFsToModule(floor, "no Landlock on this kernel (or turned off at launch)");
  } else if (abi < kLandlockReferAbi && floor.fs_handled != 0) {
    // ABI 1 refuses every rename and link across directories in a domain that handles any file
    // access (landlock(7), "Previous limitations"), which the module may allow: that floor
    // would be tighter.
    MoveFsToModule(floor, fmt::format("Landlock ABI {} would refuse every rename and link "
                                      "across directories (needs ABI {})",
                                      abi, kLandlockReferAbi));
  }
  if (abi < kLandlockNetAbi && (floor.tcp_bind.handled || floor.tcp_connect.handled)) {
    const std::string reason =
        abi < 1 ? std::string("no Landlock on this kernel (or turned off at launch)")
                : fmt::format("Landlock ABI {} has no TCP port rules (needs ABI {})", abi,
                              kLandlockNetAbi);
    for (const char* op : {"connect", "bind"}) {
      const bool handled = std::string_view(op) == "connect" ? floor.tcp_connect.handled
                                                             : floor.tcp_bind.handled;
      if (handled) {
        floor.module_only.push_back({std::string(op) + "_allow (TCP ports)", reason});
      }
    }
    floor.tcp_bind = {};
    floor.tcp_connect = {};
  }
  if (floor.empty()) {
    // Nothing is held: whatever the module reported as held is the module's alone too.
    for (KernelFloor::Held& h : floor.held) {
      floor.module_only.push_back({std::move(h.rule), abi < 1 ? "no Landlock (or turned off)"
                                                             : "this kernel cannot hold it"});
    }
    floor.held.clear();
  }
  return floor;
}

std::vector<std::string> ExecFiles(const std::string& path) {
  std::vector<std::string> out;
  std::string next = path;
  for (int depth = 0; depth < 3 && !next.empty(); ++depth) {
    UniqueFd fd(open(next.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      break;
    }
    out.push_back(next);
    char head[256] = {};
    const ssize_t n = pread(fd.get(), head, sizeof head - 1, 0);
    if (n > 2 && head[0] == '#' && head[1] == '!') {
      // binfmt_script: the interpreter is the first word after "#!".
      std::string line(head + 2, static_cast<size_t>(n - 2));
      line = line.substr(0, line.find('\n'));
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string::npos) {
        break;
      }
      next = line.substr(start, line.find_first_of(" \t", start) - start);
      continue;
    }
    if (std::string interp = ElfInterpreter(fd.get()); !interp.empty()) {
      out.push_back(interp);
    }
    break;
  }
  return out;
}

Result<LandlockRulesets> LandlockRulesets::Build(std::span<const KernelFloor> floors, int abi,
                                                 bool scope) {
  LandlockRulesets out;
  for (const KernelFloor& floor : floors) {
    if (floor.empty()) {
      continue;
    }
    if (out.rulesets_.size() == kLandlockMaxLayers) {
      return MakeError(fmt::format("more than {} kernel floors (Landlock layers)",
                                   kLandlockMaxLayers));
    }
    RulesetAttr attr{};
    attr.handled_access_fs = FsRights(floor.fs_handled, abi);
    // Reparenting (rename and link across directories) is denied by any ruleset that handles
    // file access, handled or not (landlock(7), LANDLOCK_ACCESS_FS_REFER): it is handled here
    // and granted where the module allows it. A floor that does not confine create and unlink
    // (exec_guard's) grants it beneath "/", as the module allows every rename.
    const bool refer = attr.handled_access_fs != 0 && abi >= kLandlockReferAbi;
    if (refer) {
      attr.handled_access_fs |= kRefer;
    }
    if (floor.tcp_bind.handled) {
      attr.handled_access_net |= kBindTcp;
    }
    if (floor.tcp_connect.handled) {
      attr.handled_access_net |= kConnectTcp;
    }
    if (scope && out.rulesets_.empty()) {
      attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    }
    UniqueFd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
    if (!ruleset.valid()) {
      return ErrnoError(errno, "landlock_create_ruleset");
    }
    for (const KernelFloor::Tree& tree : floor.trees) {
      UniqueFd dir(open(tree.path.c_str(), O_PATH | O_CLOEXEC));
      if (!dir.valid()) {
        return ErrnoError(errno, fmt::format("opening {} for the Landlock rule of {}", tree.path,
                                             tree.rule));
      }
      struct stat st {};
      if (fstat(dir.get(), &st) != 0) {
        return ErrnoError(errno, "fstat " + tree.path);
      }
      PathBeneathAttr rule{};
      rule.allowed_access = GrantedRights(tree.access, abi) & attr.handled_access_fs;
      if (!S_ISDIR(st.st_mode)) {
        rule.allowed_access &= kFileRights;
      }
      rule.parent_fd = dir.get();
      if (rule.allowed_access == 0) {
        continue;
      }
      if (syscall(SYS_landlock_add_rule, ruleset.get(), kRulePathBeneath, &rule, 0) != 0) {
        return ErrnoError(errno, fmt::format("landlock_add_rule {} for {}", tree.path, tree.rule));
      }
    }
    if (refer && (floor.fs_handled & (kFloorCreate | kFloorUnlink)) == 0) {
      UniqueFd root(open("/", O_PATH | O_CLOEXEC));
      PathBeneathAttr rule{kRefer, root.get()};
      if (!root.valid() ||
          syscall(SYS_landlock_add_rule, ruleset.get(), kRulePathBeneath, &rule, 0) != 0) {
        return ErrnoError(errno, "landlock_add_rule / (renames across directories)");
      }
    }
    for (const auto& [ports, right] :
         {std::pair{&floor.tcp_bind, kBindTcp}, std::pair{&floor.tcp_connect, kConnectTcp}}) {
      if (!ports->handled) {
        continue;
      }
      for (const auto& [lo, hi] : ports->ranges) {
        for (uint32_t port = lo; port <= hi; ++port) {
          NetPortAttr rule{right, port};
          if (syscall(SYS_landlock_add_rule, ruleset.get(), kRuleNetPort, &rule, 0) != 0) {
            return ErrnoError(errno, fmt::format("landlock_add_rule TCP port {}", port));
          }
        }
      }
    }
    out.rulesets_.push_back(std::move(ruleset));
  }
  if (scope && out.rulesets_.empty()) {
    RulesetAttr attr{0, 0, kScopeAbstractUnixSocket | kScopeSignal};
    UniqueFd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
    if (!ruleset.valid()) {
      return ErrnoError(errno, "landlock_create_ruleset (scope)");
    }
    out.rulesets_.push_back(std::move(ruleset));
  }
  return out;
}

int LandlockRulesets::RestrictSelf() const {
  for (const UniqueFd& ruleset : rulesets_) {
    if (syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) {
      return errno;
    }
  }
  return 0;
}

}  // namespace hijack::launcher
