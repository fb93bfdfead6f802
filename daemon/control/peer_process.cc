#include "daemon/control/peer_process.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace hijack::control {
namespace {

// socket(7); the values are the same on every architecture hijackd builds for.
#ifndef SO_PEERGROUPS
constexpr int SO_PEERGROUPS = 59;
#endif
#ifndef SO_PEERPIDFD
constexpr int SO_PEERPIDFD = 77;
#endif

// Every retry of the parent walk means a process of the chain exited meanwhile; a chain that
// keeps changing this often is refused rather than walked forever.
constexpr int kMaxWalks = 16;
// Deeper than any real process tree (a pid namespace nests at most 32 deep, a shell pipeline a
// handful of levels): a bound on the work, not a policy.
constexpr int kMaxDepth = 4096;

// The pid a pidfd refers to now: "Pid:" in its fdinfo (proc(5)); -1 once the process was
// reaped, 0 when it lives in a pid namespace this one cannot see.
Result<pid_t> PidOfPidfd(int pidfd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(pidfd));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("Pid:")) {
      return static_cast<pid_t>(std::strtol(line.c_str() + 4, nullptr, 10));
    }
  }
  return std::unexpected(Error{EINVAL, "fdinfo of descriptor " + std::to_string(pidfd) +
                                           " has no Pid: line (not a pidfd?)"});
}

// The parent pid from /proc/PID/stat, whose second field (the command name, in parentheses) may
// itself contain spaces and parentheses: the fields after the last ')' are fixed.
Result<pid_t> ParentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (!in.good() && stat.empty()) {
    return std::unexpected(Error{ESRCH, "process " + std::to_string(pid) + " ended"});
  }
  if (close == std::string::npos || close + 4 > stat.size()) {
    return std::unexpected(Error{EPROTO, "/proc/" + std::to_string(pid) + "/stat: unexpected"});
  }
  // ") S PPID ..."
  const char* p = stat.c_str() + close + 2;
  while (*p != '\0' && *p != ' ') {
    ++p;
  }
  return static_cast<pid_t>(std::strtol(p, nullptr, 10));
}

UniqueFd OpenPidfd(pid_t pid) {
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

// One walk from the process `start_fd` refers to up to pid 1. nullopt: a link changed during the
// walk; walk again.
Result<std::optional<bool>> WalkOnce(int start_fd, pid_t supervisor) {
  auto start = PidOfPidfd(start_fd);
  if (!start) {
    return std::unexpected(start.error());
  }
  if (*start <= 0) {
    return std::unexpected(Error{ESRCH, "the calling process ended or is out of sight"});
  }
  pid_t current = *start;
  UniqueFd owned;  // the pidfd of `current` once the walk left the start
  int current_fd = start_fd;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    if (current == supervisor) {
      return std::optional<bool>(true);
    }
    if (current <= 1) {
      return std::optional<bool>(false);
    }
    auto parent = ParentOf(current);
    if (!parent) {
      if (parent.error().code == ESRCH && current != *start) {
        return std::optional<bool>();
      }
      return std::unexpected(parent.error());
    }
    if (*parent <= 0) {
      return std::optional<bool>(false);  // the top of this pid namespace
    }
    UniqueFd parent_fd = OpenPidfd(*parent);
    if (!parent_fd.valid()) {
      return std::optional<bool>();  // the parent ended: `current` was reparented
    }
    // `current` still lives (so /proc/current was this process) and still has that parent (so
    // the pidfd just taken is of the real parent, not of a process that reused its pid).
    auto alive = PidOfPidfd(current_fd);
    auto again = ParentOf(current);
    if (!alive || *alive != current || !again || *again != *parent) {
      if (current == *start && (!alive || *alive != current)) {
        return std::unexpected(Error{ESRCH, "the calling process ended"});
      }
      return std::optional<bool>();
    }
    owned = std::move(parent_fd);
    current_fd = owned.get();
    current = *parent;
  }
  return std::unexpected(Error{ELOOP, "process tree deeper than " + std::to_string(kMaxDepth)});
}

// "127.0.0.1" -> the hex form of /proc/net/tcp ("0100007F"): the address's 32-bit words as the
// kernel prints them, in host order (proc(5), /proc/net/tcp).
std::string ProcNetAddress(const unsigned char* bytes, size_t len) {
  std::string out;
  char buf[9];
  for (size_t i = 0; i < len; i += 4) {
    uint32_t word;
    std::memcpy(&word, bytes + i, 4);
    std::snprintf(buf, sizeof buf, "%08X", word);
    out += buf;
  }
  return out;
}

struct PeerAddress {
  bool v6 = false;
  std::string hex;  // /proc/net form
  int port = 0;
};

// gRPC's peer strings: "ipv4:127.0.0.1:41234", "ipv6:[::1]:41234" (or %5B..%5D escaped).
Result<PeerAddress> ParsePeer(const std::string& peer) {
  auto bad = [&] { return std::unexpected(Error{EINVAL, "peer \"" + peer + "\": not ipv4/ipv6"}); };
  PeerAddress out;
  std::string rest;
  if (peer.starts_with("ipv4:")) {
    rest = peer.substr(5);
  } else if (peer.starts_with("ipv6:")) {
    out.v6 = true;
    rest = peer.substr(5);
    for (auto [from, to] : {std::pair{"%5B", "["}, std::pair{"%5D", "]"}, std::pair{"%3A", ":"}}) {
      for (size_t at; (at = rest.find(from)) != std::string::npos;) {
        rest.replace(at, 3, to);
      }
    }
  } else {
    return bad();
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) {
    return bad();
  }
  std::string host = rest.substr(0, colon);
  out.port = std::atoi(rest.c_str() + colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!out.v6) {
    in_addr a;
    if (inet_pton(AF_INET, host.c_str(), &a) != 1) {
      return bad();
    }
    out.hex = ProcNetAddress(reinterpret_cast<unsigned char*>(&a), 4);
  } else {
    in6_addr a;
    if (inet_pton(AF_INET6, host.c_str(), &a) != 1) {
      return bad();
    }
    out.hex = ProcNetAddress(a.s6_addr, 16);
  }
  return out;
}

// Finds the client socket in one /proc/net table: its local end is the peer, its remote port
// ours. Returns {inode, uid} or nullopt.
std::optional<std::pair<uint64_t, uid_t>> FindSocket(const char* table, const std::string& local,
                                                     int server_port) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sl, local_address, remote_address, st, queues, timer, retransmits;
    unsigned long uid = 0;
    std::string timeout;
    uint64_t inode = 0;
    if (!(fields >> sl >> local_address >> remote_address >> st >> queues >> timer >> retransmits >>
          uid >> timeout >> inode)) {
      continue;
    }
    size_t lc = local_address.find(':');
    size_t rc = remote_address.find(':');
    if (lc == std::string::npos || rc == std::string::npos) {
      continue;
    }
    if (local_address == local &&
        std::strtol(remote_address.c_str() + rc + 1, nullptr, 16) == server_port && inode != 0) {
      return std::pair{inode, static_cast<uid_t>(uid)};
    }
  }
  return std::nullopt;
}

std::string Hex4(int port) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04X", port);
  return buf;
}

}  // namespace

Result<UnixPeer> ReadUnixPeer(int fd) {
  UnixPeer peer;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoError(errno, "getsockopt SO_PEERCRED");
  }
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  peer.pid = cred.pid;
  gid_t groups[256];
  len = sizeof groups;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
    peer.groups.assign(groups, groups + len / sizeof(gid_t));
  } else if (errno == ERANGE) {
    std::vector<gid_t> many(len / sizeof(gid_t) + 1);
    len = static_cast<socklen_t>(many.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, many.data(), &len) != 0) {
      return ErrnoError(errno, "getsockopt SO_PEERGROUPS");
    }
    many.resize(len / sizeof(gid_t));
    peer.groups = std::move(many);
  } else {
    return ErrnoError(errno, "getsockopt SO_PEERGROUPS");
  }
  int pidfd = -1;
  len = sizeof pidfd;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
    peer.pidfd = std::make_shared<UniqueFd>(pidfd);
    // The kernel gives it without close-on-exec (getsockopt has no flags argument); set at once
    // so a guest exec'd later never inherits it. A guest forked by the loop thread in the few
    // instructions between the two calls would hold a pidfd of this client.
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  } else if (errno != ENOPROTOOPT) {
    return ErrnoError(errno, "getsockopt SO_PEERPIDFD");
  }
  return peer;
}

Result<bool> InSupervisedTree(int pidfd, pid_t supervisor) {
  for (int walk = 0; walk < kMaxWalks; ++walk) {
    auto result = WalkOnce(pidfd, supervisor);
    if (!result) {
      return std::unexpected(result.error());
    }
    if (result->has_value()) {
      return **result;
    }
  }
  return std::unexpected(
      Error{EAGAIN, "the caller's process tree kept changing while it was checked"});
}

Result<bool> PidInSupervisedTree(pid_t pid, pid_t supervisor) {
  UniqueFd fd = OpenPidfd(pid);
  if (!fd.valid()) {
    return ErrnoError(errno, "pidfd_open of process " + std::to_string(pid));
  }
  return InSupervisedTree(fd.get(), supervisor);
}

Result<TcpPeerProcesses> LocalTcpPeer(const std::string& peer, int server_port) {
  auto address = ParsePeer(peer);
  if (!address) {
    return std::unexpected(address.error());
  }
  TcpPeerProcesses out;
  std::string local = address->hex + ":" + Hex4(address->port);
  auto found = FindSocket(address->v6 ? "/proc/net/tcp6" : "/proc/net/tcp", local, server_port);
  if (!found && !address->v6) {
    // An IPv4 client of a dual-stack listener appears as ::ffff:a.b.c.d in tcp6.
    found = FindSocket("/proc/net/tcp6",
                       "0000000000000000FFFF0000" + address->hex + ":" + Hex4(address->port),
                       server_port);
  }
  if (!found) {
    return out;
  }
  out.local = true;
  out.socket_uid = found->second;
  const std::string target = "socket:[" + std::to_string(found->first) + "]";
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return ErrnoError(errno, "opendir /proc");
  }
  const pid_t self = getpid();
  char link[64];
  while (dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    auto [end, ec] =
        std::from_chars(entry->d_name, entry->d_name + std::strlen(entry->d_name), pid);
    if (ec != std::errc() || *end != '\0' || pid == self) {
      continue;
    }
    std::string dir = std::string("/proc/") + entry->d_name + "/fd";
    DIR* fds = opendir(dir.c_str());
    if (fds == nullptr) {
      continue;  // gone, or not ours to inspect: `pids` stays incomplete, which callers handle
    }
    while (dirent* fd = readdir(fds)) {
      if (fd->d_name[0] == '.') {
        continue;
      }
      ssize_t n = readlinkat(dirfd(fds), fd->d_name, link, sizeof link - 1);
      if (n > 0) {
        link[n] = '\0';
        if (target == link) {
          out.pids.push_back(pid);
          break;
        }
      }
    }
    closedir(fds);
  }
  closedir(proc);
  return out;
}

}  // namespace hijack::control
