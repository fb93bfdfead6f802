#include "daemon/modules/plugin/policy_host_client.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "common/install_layout.h"

extern char** environ;

namespace hijack::modules {

using plugin_host::MessageHeader;
using plugin_host::MessageType;
using plugin_host::WireCall;
using plugin_host::WireVerdict;

namespace {

// The descriptor number the helper finds its socket at.
constexpr int kHostFd = 3;

std::string CallBody(const SyscallEvent& ev, std::string_view name, std::string_view args,
                     const hijack_outcome_v1* outcome) {
  WireCall w{};
  w.guest_id = ev.guest_id;
  w.pid = ev.pid;
  w.tid = ev.tid;
  w.nr = ev.nr;
  w.arch = ev.arch;
  std::memcpy(w.args, ev.args.data(), sizeof w.args);
  if (outcome != nullptr) {
    w.outcome = *outcome;
  }
  const size_t room = plugin_host::kMaxMessage - sizeof(MessageHeader) - sizeof w - name.size() - 2;
  if (args.size() > room) {
    args = {};  // too large to send: the plugin sees no decoded arguments
  }
  w.name_len = static_cast<uint32_t>(name.size() + 1);
  w.args_len = args.empty() ? 0 : static_cast<uint32_t>(args.size() + 1);
  std::string body(reinterpret_cast<const char*>(&w), sizeof w);
  body.append(name);
  body.push_back('\0');
  if (!args.empty()) {
    body.append(args);
    body.push_back('\0');
  }
  return body;
}

}  // namespace

std::string PolicyHostClient::HostExecutable() {
  if (const char* env = getenv("HIJACK_POLICY_HOST"); env != nullptr && env[0] != '\0') {
    return env;
  }
  // Installed: <bindir>/../lib/hijack/hijack-policy-host (install_layout.h).
  if (auto installed = install_layout::BesideInstalledBinary("hijack-policy-host");
      installed && access(installed->c_str(), X_OK) == 0) {
    return installed->string();
  }
#ifdef HIJACK_POLICY_HOST_BUILD_PATH
  // The build tree's, only for a program that runs from it: an installed hijackd never
  // starts a helper left in the tree it was built in.
  if (install_layout::RunningFromBuildTree()) {
    return HIJACK_POLICY_HOST_BUILD_PATH;
  }
#endif
  if (auto installed = install_layout::BesideInstalledBinary("hijack-policy-host")) {
    return installed->string();  // absent: starting it fails and names this path
  }
  return "hijack-policy-host";
}

Result<std::unique_ptr<PolicyHostClient>> PolicyHostClient::Start(std::string path,
                                                                  std::string config,
                                                                  Options options) {
  std::unique_ptr<PolicyHostClient> c(
      new PolicyHostClient(std::move(path), std::move(config), options));
  std::lock_guard lock(c->mu_);
  auto loaded = c->SpawnLocked();
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  c->loaded_ = std::move(*loaded);
  return c;
}

PolicyHostClient::~PolicyHostClient() {
  std::lock_guard lock(mu_);
  sock_.reset();  // the helper sees EOF, destroys the instance and exits
  if (pid_ > 0) {
    // Bounded: a helper stuck in a plugin is killed.
    for (int i = 0; i < 50; ++i) {
      pid_t r = waitpid(pid_, nullptr, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        pid_ = -1;
        break;
      }
      usleep(2000);
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
}

Result<PolicyHostClient::Loaded> PolicyHostClient::SpawnLocked() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoError(errno, "socketpair for the policy host");
  }
  UniqueFd mine(sv[0]), theirs(sv[1]);
  const std::string exe = HostExecutable();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), kHostFd);  // clears FD_CLOEXEC
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string fd_arg = std::to_string(kHostFd);
  char* argv[] = {const_cast<char*>(exe.c_str()), fd_arg.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, exe.c_str(), &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return ErrnoError(rc, "start the policy host " + exe);
  }
  theirs.reset();
  sock_ = std::move(mine);
  pid_ = pid;

  std::string body = path_;
  body.push_back('\0');
  body += config_;
  body.push_back('\0');
  int32_t status = 0;
  auto answer = RoundTripLocked(MessageType::kLoad, body, MessageType::kLoaded, &status);
  if (!answer) {
    KillLocked("load");
    return MakeError("the policy host died while loading it (" + answer.error().message + ")");
  }
  if (status != 0) {
    KillLocked("load refused");
    return MakeError(*answer);
  }
  Loaded out;
  size_t nl = answer->find('\n');
  out.name = answer->substr(0, nl);
  out.describe = nl == std::string::npos ? "" : answer->substr(nl + 1);
  return out;
}

void PolicyHostClient::KillLocked(const char* why) {
  if (pid_ > 0) {
    spdlog::debug("policy host {} for {}: stopping ({})", pid_, path_, why);
    kill(pid_, SIGKILL);
    // The supervisor's reaper may collect it first; either way it does not linger.
    waitpid(pid_, nullptr, WNOHANG);
  }
  pid_ = -1;
  sock_.reset();
  down_since_ = std::chrono::steady_clock::now();
}

Result<std::string> PolicyHostClient::RoundTripLocked(MessageType type, const std::string& body,
                                                      MessageType answer, int32_t* status) {
  MessageHeader h{type, ++seq_, plugin_host::kProtocolVersion, 0};
  std::string msg(reinterpret_cast<const char*>(&h), sizeof h);
  msg += body;
  if (send(sock_.get(), msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    return ErrnoError(errno, "send to the policy host");
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  std::vector<char> buf(plugin_host::kMaxMessage);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) {
      return ErrnoError(ETIMEDOUT, "the policy host did not answer");
    }
    pollfd p{sock_.get(), POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready == 0) {
      return ErrnoError(ETIMEDOUT, "the policy host did not answer");
    }
    ssize_t n = recv(sock_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n <= 0) {
      return ErrnoError(n == 0 ? EPIPE : errno, "the policy host closed its socket");
    }
    MessageHeader r;
    if (static_cast<size_t>(n) < sizeof r) {
      continue;
    }
    std::memcpy(&r, buf.data(), sizeof r);
    if (r.seq != h.seq || r.type != answer) {
      continue;  // a late answer to a request that timed out
    }
    if (status != nullptr) {
      *status = r.status;
    }
    std::string text(buf.data() + sizeof r, static_cast<size_t>(n) - sizeof r);
    if (answer != MessageType::kVerdict && !text.empty() && text.back() == '\0') {
      text.pop_back();
    }
    return text;
  }
}

Result<WireVerdict> PolicyHostClient::Decide(const SyscallEvent& ev, std::string_view name,
                                             std::string_view args_json) {
  std::lock_guard lock(mu_);
  if (!sock_.valid()) {
    if (std::chrono::steady_clock::now() - down_since_ < options_.restart_backoff) {
      ++failures_;
      return MakeError("the policy host is down");
    }
    ++restarts_;
    auto loaded = SpawnLocked();
    if (!loaded) {
      ++failures_;
      spdlog::warn("plugin {}: restarting its policy host failed: {}", path_,
                   loaded.error().message);
      return std::unexpected(loaded.error());
    }
    spdlog::info("plugin {}: policy host restarted (pid {})", path_, pid_);
  }
  auto answer = RoundTripLocked(MessageType::kDecide, CallBody(ev, name, args_json, nullptr),
                                MessageType::kVerdict, nullptr);
  if (!answer || answer->size() < sizeof(WireVerdict)) {
    ++failures_;
    spdlog::warn("plugin {}: policy host {} failed during decide: {}", path_, pid_,
                 answer ? "short answer" : answer.error().message);
    KillLocked("decide failed");
    if (!answer) {
      return std::unexpected(answer.error());
    }
    return MakeError("short answer from the policy host");
  }
  WireVerdict v;
  std::memcpy(&v, answer->data(), sizeof v);
  return v;
}

void PolicyHostClient::Observe(const SyscallEvent& ev, std::string_view name,
                               std::string_view args_json, const hijack_outcome_v1& outcome) {
  std::lock_guard lock(mu_);
  if (!sock_.valid()) {
    return;
  }
  MessageHeader h{MessageType::kObserve, ++seq_, plugin_host::kProtocolVersion, 0};
  std::string msg(reinterpret_cast<const char*>(&h), sizeof h);
  msg += CallBody(ev, name, args_json, &outcome);
  // Observation fails open: a full socket drops the event.
  (void)send(sock_.get(), msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::string PolicyHostClient::Stats() {
  std::lock_guard lock(mu_);
  if (!sock_.valid()) {
    return "{}";
  }
  auto answer = RoundTripLocked(MessageType::kStats, "", MessageType::kStatsText, nullptr);
  if (!answer) {
    KillLocked("stats failed");
    return "{}";
  }
  return *answer;
}

uint64_t PolicyHostClient::restarts() const {
  std::lock_guard lock(mu_);
  return restarts_;
}

uint64_t PolicyHostClient::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

bool PolicyHostClient::up() const {
  std::lock_guard lock(mu_);
  return sock_.valid();
}

}  // namespace hijack::modules
