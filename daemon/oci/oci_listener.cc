#include "daemon/oci/oci_listener.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "common/bounded_file.h"
#include "common/bounded_json.h"
#include "daemon/modules/builtin.h"
#include "daemon/oci/container_state.h"
#include "daemon/policy/policy_set.h"
#include "daemon/syscalls/syscall_table.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

namespace hijack::oci {
namespace {

// config.json of a bundle: large for a JSON file (hooks, mounts, a long seccomp list), small for
// the daemon.
constexpr size_t kMaxConfigBytes = 4 << 20;
constexpr auto kLoopWait = std::chrono::seconds(5);

std::string Key(const std::string& id, pid_t init) { return id + "\n" + std::to_string(init); }

// The anonymous inode seccomp(2) makes for SECCOMP_FILTER_FLAG_NEW_LISTENER.
bool IsSeccompListener(int fd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  char target[64] = {};
  ssize_t n = readlink(path, target, sizeof target - 1);
  return n > 0 && std::string_view(target, static_cast<size_t>(n)) == "anon_inode:seccomp notify";
}

// Reads a regular file of at most `max` bytes from `fd`.
Result<std::string> ReadRegular(int fd, const std::string& name, size_t max) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return ErrnoError(errno, "fstat " + name);
  }
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(Error{EINVAL, name + ": not a regular file"});
  }
  if (static_cast<size_t>(st.st_size) > max) {
    return std::unexpected(Error{EFBIG, fmt::format("{}: larger than {} bytes", name, max)});
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return ErrnoError(errno, "read " + name);
    }
    if (n == 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

// A socket file that a daemon which ended without Stop() left at `path` is removed; bind then
// makes a new one. Stale means connect(2) is refused (ECONNREFUSED: nothing listens on it,
// unix(7)). Anything else at the path stays: a live daemon's socket (the connection succeeds, or
// its backlog is full: EAGAIN), a file of another type, a symbolic link (lstat, so its target is
// never judged or removed). Errors name the path and what is there.
Result<void> RemoveStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return ErrnoError(errno, "--oci-listener " + path + ": lstat");
  }
  if (!S_ISSOCK(st.st_mode)) {
    return std::unexpected(Error{
        EEXIST, "--oci-listener " + path + ": exists and is not a socket (" +
                    (S_ISLNK(st.st_mode)  ? "a symbolic link"
                     : S_ISDIR(st.st_mode) ? "a directory"
                     : S_ISREG(st.st_mode) ? "a regular file"
                                           : "a special file") +
                    "); it is left as it is"});
  }
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe.valid()) {
    return ErrnoError(errno, "socket(AF_UNIX)");
  }
  if (connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
      errno == EAGAIN) {
    return std::unexpected(
        Error{EADDRINUSE, "--oci-listener " + path + ": a live socket, something listens on it already"});
  }
  if (errno != ECONNREFUSED) {
    return ErrnoError(errno, "--oci-listener " + path + ": connect to the socket found there");
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(errno, "--oci-listener " + path + ": unlink the stale socket");
  }
  spdlog::warn("oci: removed the stale socket {} (nothing listened on it)", path);
  return {};
}

}  // namespace

Result<OciListenerOptions> ListenerOptionsFrom(const std::string& path, const std::string& mode,
                                               const std::string& group,
                                               const std::string& policy_dir,
                                               const std::string& default_policy) {
  OciListenerOptions o;
  o.path = path;
  o.policy_dir = policy_dir;
  o.default_policy = default_policy;
  char* end = nullptr;
  const unsigned long m = std::strtoul(mode.c_str(), &end, 8);
  if (mode.empty() || *end != '\0' || m > 0777) {
    return std::unexpected(Error{
        EINVAL, "--oci-listener-mode " + mode + ": expected an octal mode such as 0600"});
  }
  o.mode = static_cast<unsigned>(m);
  if (!group.empty()) {
    struct group entry {};
    struct group* found = nullptr;
    char buf[4096];
    if (getgrnam_r(group.c_str(), &entry, buf, sizeof buf, &found) == 0 && found != nullptr) {
      o.group = found->gr_gid;
    } else {
      const unsigned long gid = std::strtoul(group.c_str(), &end, 10);
      if (*end != '\0' || end == group.c_str()) {
        return std::unexpected(
            Error{EINVAL, "--oci-listener-group " + group + ": no such group"});
      }
      o.group = static_cast<gid_t>(gid);
    }
  }
  return o;
}

struct OciListener::Message {
  std::string text;
  std::vector<UniqueFd> fds;
};

Result<std::unique_ptr<OciListener>> OciListener::Start(const OciListenerOptions& options,
                                                        supervisor::Supervisor& supervisor) {
  if (!options.default_policy.empty()) {
    // Refused now rather than at the first container.
    HIJACK_TRY(policy::PolicySet::FromFile(options.default_policy, modules::BuiltInModules()));
  }
  if (!options.policy_dir.empty()) {
    struct stat st {};
    if (stat(options.policy_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return std::unexpected(
          Error{ENOTDIR, "--oci-policy-dir " + options.policy_dir + ": not a directory"});
    }
  }
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) {
    return ErrnoError(errno, "socket(AF_UNIX)");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.path.empty() || options.path.size() >= sizeof addr.sun_path) {
    return std::unexpected(
        Error{EINVAL, "--oci-listener " + options.path + ": not a unix socket path"});
  }
  std::memcpy(addr.sun_path, options.path.c_str(), options.path.size());
  HIJACK_TRY(RemoveStaleSocket(options.path, addr));
  // Never wider than 0600 while it exists: umask is per process, and nothing else creates files
  // while serve starts.
  mode_t old_umask = umask(0177);
  int rc = bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old_umask);
  if (rc != 0) {
    return ErrnoError(err, "bind --oci-listener " + options.path);
  }
  if (listen(sock.get(), 64) != 0) {
    return ErrnoError(errno, "listen " + options.path);
  }
  if (chmod(options.path.c_str(), options.mode) != 0) {
    return ErrnoError(errno, "chmod " + options.path);
  }
  if (options.group && chown(options.path.c_str(), static_cast<uid_t>(-1), *options.group) != 0) {
    return ErrnoError(errno, "chgrp " + options.path);
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return ErrnoError(errno, "eventfd");
  }
  std::unique_ptr<OciListener> listener(
      new OciListener(options, supervisor, std::move(sock), std::move(wake)));
  // A container's end frees its id for the next container of that name.
  auto added = supervisor.OnLoop(
      [&supervisor, registry = listener->registry_]() -> Result<void> {
        supervisor.AddExitListener([registry](uint64_t id, int) {
          std::lock_guard lock(registry->mu);
          std::erase_if(registry->containers, [id](const auto& kv) { return kv.second == id; });
        });
        return {};
      },
      std::chrono::steady_clock::now() + kLoopWait);
  if (!added) {
    return std::unexpected(added.error());
  }
  listener->thread_ = std::thread([l = listener.get()] { l->Run(); });
  return listener;
}

OciListener::OciListener(OciListenerOptions options, supervisor::Supervisor& supervisor,
                         UniqueFd socket, UniqueFd wake)
    : options_(std::move(options)),
      supervisor_(supervisor),
      socket_(std::move(socket)),
      wake_(std::move(wake)) {}

OciListener::~OciListener() { Stop(); }

void OciListener::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) {
    thread_.join();
  }
  unlink(options_.path.c_str());
}

void OciListener::Run() {
  for (;;) {
    pollfd p[2] = {{socket_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      spdlog::error("oci listener: poll: {}", std::strerror(errno));
      return;
    }
    if (p[1].revents != 0) {
      return;
    }
    UniqueFd conn(accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        spdlog::warn("oci listener: accept: {}", std::strerror(errno));
      }
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len);
    auto served = Serve(conn.get());
    if (served) {
      spdlog::info("oci: {}", *served);
    } else {
      spdlog::warn("oci: connection of pid {} (uid {}) refused: {}", cred.pid, cred.uid,
                   served.error().message);
    }
  }
}

Result<void> OciListener::CheckPeer(int fd) const {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoError(errno, "getsockopt SO_PEERCRED");
  }
  if (cred.uid == 0 || cred.uid == geteuid()) {
    return {};
  }
  if (options_.group) {
    if (cred.gid == *options_.group) {
      return {};
    }
    gid_t groups[256];
    len = sizeof groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0 &&
        std::find(groups, groups + len / sizeof(gid_t), *options_.group) !=
            groups + len / sizeof(gid_t)) {
      return {};
    }
  }
  return std::unexpected(Error{EACCES, fmt::format("uid {} is neither root, the daemon's uid nor "
                                                   "in the listener's group",
                                                   cred.uid)});
}

Result<OciListener::Message> OciListener::ReadMessage(int fd) const {
  // The runtime sends the state and the descriptor in one sendmsg and may keep the connection
  // open afterwards (runc 1.1 does): the message ends where the JSON text is complete, not at
  // EOF. Bounded in bytes, descriptors and time.
  Message msg;
  const auto deadline = std::chrono::steady_clock::now() + options_.read_timeout;
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::unexpected(Error{ETIMEDOUT, fmt::format("no complete state message within {} ms",
                                                          options_.read_timeout.count())});
    }
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      continue;  // the deadline check above says so
    }
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    iovec iov{buf, sizeof buf};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n < 0) {
      return ErrnoError(errno, "recvmsg");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int received = -1;
          std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          msg.fds.emplace_back(received);  // owned now, whatever follows
        }
      }
    }
    if ((mh.msg_flags & MSG_CTRUNC) != 0) {
      return std::unexpected(
          Error{EINVAL, fmt::format("more than {} descriptors (SCM_RIGHTS truncated)", kMaxFds)});
    }
    if (n == 0) {
      if (msg.text.empty()) {
        return std::unexpected(Error{ECONNRESET, "closed before a state message"});
      }
      return msg;  // the parse says what is wrong with it
    }
    msg.text.append(buf, static_cast<size_t>(n));
    if (msg.text.size() > kMaxStateBytes) {
      return std::unexpected(
          Error{EMSGSIZE, fmt::format("the state message exceeds {} bytes", kMaxStateBytes)});
    }
    if (msg.fds.size() > kMaxFds) {
      return std::unexpected(Error{EINVAL, fmt::format("more than {} descriptors", kMaxFds)});
    }
    if (nlohmann::json::accept(msg.text)) {
      return msg;
    }
  }
}

Result<std::shared_ptr<policy::PolicySet>> OciListener::ChoosePolicy(
    const std::string& metadata, const SyscallSet& notified) const {
  if (metadata.empty()) {
    if (!options_.default_policy.empty()) {
      return policy::PolicySet::FromFile(options_.default_policy, modules::BuiltInModules());
    }
    nlohmann::json doc = {{"version", 1},
                          {"modules", nlohmann::json::array({{{"module", "stats"}}})}};
    nlohmann::json names = nlohmann::json::array();
    for (int nr = 0; nr < SyscallSet::kCapacity; ++nr) {
      if (notified.Contains(nr)) {
        names.push_back(std::string(syscalls::SyscallName(nr)));
      }
    }
    doc["modules"][0]["syscalls"] = names;
    return policy::PolicySet::FromJson(doc, modules::BuiltInModules());
  }
  if (!IsPolicyName(metadata)) {
    return std::unexpected(Error{
        EINVAL, "/metadata: not a policy name (1 to 64 of [A-Za-z0-9_.-], not starting with '.')"});
  }
  if (options_.policy_dir.empty()) {
    return std::unexpected(Error{
        ENOENT, "/metadata names policy \"" + metadata + "\" and there is no --oci-policy-dir"});
  }
  UniqueFd dir(open(options_.policy_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return ErrnoError(errno, "open --oci-policy-dir " + options_.policy_dir);
  }
  // Beneath the directory whatever its files link to (openat2(2)): a name cannot leave it.
  const std::string file = metadata + ".json";
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(syscall(SYS_openat2, dir.get(), file.c_str(), &how, sizeof how)));
  const std::string name = options_.policy_dir + "/" + file;
  if (!fd.valid()) {
    return ErrnoError(errno, "/metadata: policy " + name);
  }
  HIJACK_ASSIGN_OR_RETURN(std::string text, ReadRegular(fd.get(), name, common::kMaxPolicyBytes));
  return policy::PolicySet::FromText(text, name, modules::BuiltInModules());
}

Result<std::string> OciListener::Serve(int fd) {
  HIJACK_TRY(CheckPeer(fd));
  HIJACK_ASSIGN_OR_RETURN(Message msg, ReadMessage(fd));
  HIJACK_ASSIGN_OR_RETURN(ContainerProcessState st,
                          ParseContainerProcessState(msg.text, msg.fds.size()));
  UniqueFd listener = std::move(msg.fds[st.seccomp_fd_index]);
  const std::string who = fmt::format("container {} (pid {})", st.id, st.pid);
  if (!IsSeccompListener(listener.get())) {
    return std::unexpected(
        Error{EINVAL, who + ": /fds/" + std::to_string(st.seccomp_fd_index) +
                          ": the descriptor is not a seccomp listener"});
  }
  const std::string key = Key(st.id, st.state_pid);
  std::optional<uint64_t> known;
  {
    std::lock_guard lock(registry_->mu);
    if (auto it = registry_->containers.find(key); it != registry_->containers.end()) {
      known = it->second;
    } else if (st.state_pid == 0) {
      // crun 1.8's exec names neither its process nor the container's init: the one running
      // container of that id is it. Two of one id (two runtimes' roots) cannot be told apart.
      const std::string prefix = st.id + "\n";
      int matches = 0;
      for (auto at = registry_->containers.lower_bound(prefix);
           at != registry_->containers.end() && at->first.starts_with(prefix); ++at) {
        known = at->second;
        ++matches;
      }
      if (matches > 1) {
        return std::unexpected(Error{
            EINVAL, who + ": /state/pid: 0, and " + std::to_string(matches) +
                        " running containers have this id: which one to join is unknown"});
      }
    }
  }
  auto deadline = std::chrono::steady_clock::now() + kLoopWait;
  if (known) {
    auto shared = std::make_shared<UniqueFd>(std::move(listener));
    HIJACK_TRY(supervisor_.OnLoop(
        [this, id = *known, shared]() -> Result<void> {
          return supervisor_.JoinListener(id, std::move(*shared), true);
        },
        deadline));
    return fmt::format("{} joins guest {} (a process started in it: {})", who, *known, st.status);
  }
  if (st.pid == 0 || st.state_pid == 0 || st.bundle.empty()) {
    return std::unexpected(Error{
        EINVAL, who + ": no guest of this container is known to join, and a new one needs "
                      "what this message lacks: /pid, /state/pid and an absolute /state/bundle"});
  }
  // Read as the runtime left it: the bundle is the runtime's, and the descriptor received is
  // of the filter it installed from this file.
  const std::string config_path = st.bundle + "/config.json";
  HIJACK_ASSIGN_OR_RETURN(std::string config_text,
                          common::ReadBoundedFile(config_path, kMaxConfigBytes));
  auto config = common::ParseBoundedJson(config_text);
  if (!config) {
    return std::unexpected(Error{EINVAL, config_path + ": " + config.error().message});
  }
  auto notified = NotifiedSyscallsOf(*config);
  if (!notified) {
    return std::unexpected(Error{EINVAL, config_path + ": " + notified.error().message});
  }
  if (!notified->calls.Contains(SYS_execve) || !notified->calls.Contains(SYS_execveat)) {
    return std::unexpected(Error{
        EINVAL, config_path + ": /linux/seccomp/syscalls: execve and execveat must be sent with "
                              "SCMP_ACT_NOTIFY and no args: the runtime's own calls end at the "
                              "container's first execve, which hijackd must see"});
  }
  auto chosen = ChoosePolicy(st.metadata, notified->calls);
  if (!chosen) {
    return std::unexpected(Error{chosen.error().code, who + ": " + chosen.error().message});
  }
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, st.pid, 0)));
  if (!pidfd.valid()) {
    return ErrnoError(errno, who + ": pidfd_open");
  }
  auto spec = std::make_shared<supervisor::AdoptedGuestSpec>();
  spec->argv = {"oci:" + st.id, "bundle=" + st.bundle,
                "policy=" + (st.metadata.empty() ? std::string("(default)") : st.metadata)};
  spec->pid = st.pid;
  spec->pidfd = std::move(pidfd);
  spec->listener = std::move(listener);
  spec->policy = std::move(*chosen);
  spec->intercept = notified->calls;
  // Registered on the loop, before any exit of the guest can be: the exit listener, also on the
  // loop, then always finds the entry it must remove.
  auto adopted = supervisor_.OnLoop(
      [this, spec, key, registry = registry_]() -> Result<supervisor::GuestInfo> {
        HIJACK_ASSIGN_OR_RETURN(supervisor::GuestInfo info, supervisor_.Adopt(std::move(*spec)));
        std::lock_guard lock(registry->mu);
        registry->containers[key] = info.id;
        return info;
      },
      deadline);
  if (!adopted) {
    return std::unexpected(Error{adopted.error().code, who + ": " + adopted.error().message});
  }
  return fmt::format("{} is guest {} (bundle {}, policy {})", who, adopted->id, st.bundle,
                     st.metadata.empty() ? "default" : st.metadata);
}

}  // namespace hijack::oci
