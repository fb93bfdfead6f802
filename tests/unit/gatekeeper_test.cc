// Unit tests of who may steer: the Gatekeeper's rules as a table, the process-tree check on real
// processes, the local TCP peer lookup on a real loopback connection, and the audit log's bound.
#include "daemon/control/gatekeeper.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon/control/audit_log.h"
#include "daemon/control/peer_process.h"
#include "tests/support/subprocess.h"

namespace hijack::control {
namespace {

using ::testing::HasSubstr;

Caller UnixCaller(uid_t uid, bool admin, bool launch, bool watch) {
  Caller c;
  c.unix_peer = UnixPeer{.uid = uid, .gid = uid, .groups = {}, .pid = 1, .pidfd = nullptr};
  c.admin = admin;
  c.launch = launch;
  c.watch_all = watch;
  return c;
}

TEST(GatekeeperAllow, TheRulesAsATable) {
  Gatekeeper gate({}, getpid());
  const Caller admin = UnixCaller(1000, true, false, false);
  const Caller launcher = UnixCaller(1001, false, true, false);
  const Caller watcher = UnixCaller(1002, false, false, true);
  const Caller nobody = UnixCaller(1003, false, false, false);
  struct Row {
    const Caller* who;
    Action action;
    uint64_t guest;
    std::optional<uid_t> owner;
    bool allowed;
    const char* rule;  // in the refusal
  } rows[] = {
      {&admin, Action::kLaunch, 0, {}, true, ""},
      {&admin, Action::kChange, 3, 42, true, ""},
      {&launcher, Action::kLaunch, 0, {}, true, ""},
      {&launcher, Action::kChange, 3, 1001, true, ""},
      {&launcher, Action::kChange, 3, 1000, false, "rule own-guests"},
      {&launcher, Action::kChange, 3, {}, false, "rule own-guests"},
      {&launcher, Action::kWatch, 3, 1001, true, ""},
      {&launcher, Action::kWatch, 0, {}, false, "rule own-guests"},
      {&watcher, Action::kWatch, 0, {}, true, ""},
      {&watcher, Action::kWatch, 3, 1000, true, ""},
      {&watcher, Action::kLaunch, 0, {}, false, "rule launch-group"},
      {&watcher, Action::kChange, 3, 1002, false, "rule launch-group"},
      {&nobody, Action::kHealth, 0, {}, true, ""},
      {&nobody, Action::kWatch, 3, 1003, false, "rule watch-group"},
      {&nobody, Action::kLaunch, 0, {}, false, "rule launch-group"},
  };
  for (const Row& r : rows) {
    grpc::Status s = gate.Allow(*r.who, r.action, r.guest, r.owner);
    EXPECT_EQ(s.ok(), r.allowed) << r.who->Describe() << " action " << static_cast<int>(r.action)
                                 << " guest " << r.guest << ": " << s.error_message();
    if (!r.allowed) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_THAT(s.error_message(), HasSubstr(r.rule));
    }
  }
}

TEST(GatekeeperLaunchCredentials, AGuestNeverGetsMoreThanItsCaller) {
  Gatekeeper gate({}, getpid());
  Caller owner = UnixCaller(geteuid(), true, false, false);
  auto own = gate.LaunchCredentials(owner);
  ASSERT_TRUE(own.has_value());
  EXPECT_FALSE(own->has_value()) << "the owner's guests run with the daemon's rights";
  Caller other = UnixCaller(65534, false, true, false);
  other.unix_peer->groups = {4712};
  auto theirs = gate.LaunchCredentials(other);
  if (geteuid() == 0) {
    ASSERT_TRUE(theirs.has_value());
    ASSERT_TRUE(theirs->has_value());
    EXPECT_EQ((*theirs)->uid, 65534u);
    EXPECT_EQ((*theirs)->groups, std::vector<gid_t>{4712});
  } else {
    ASSERT_FALSE(theirs.has_value());
    EXPECT_THAT(theirs.error().error_message(), HasSubstr("rule least-privilege"));
  }
}

UniqueFd PidfdOf(pid_t pid) { return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))); }

// A child of the test that waits on a pipe until Release() (or the end of its scope) lets it
// exit, and is reaped there: a process of our tree with a known pid, holding the descriptors the
// test held when it was made.
class HeldChild {
 public:
  HeldChild() {
    if (pipe2(go_, O_CLOEXEC) != 0) {
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      char b;
      (void)!read(go_[0], &b, 1);
      _exit(0);
    }
  }
  HeldChild(const HeldChild&) = delete;
  HeldChild& operator=(const HeldChild&) = delete;
  ~HeldChild() {
    Release();
    if (go_[0] >= 0) {
      close(go_[0]);
      close(go_[1]);
    }
  }

  pid_t pid() const { return pid_; }  // -1 when the pipe or the fork failed
  void Release() {
    if (pid_ > 0) {
      (void)!write(go_[1], "g", 1);
      waitpid(pid_, nullptr, 0);
      pid_ = 0;
    }
  }

 private:
  int go_[2] = {-1, -1};
  pid_t pid_ = -1;
};

TEST(InSupervisedTree, DescendantsAreInsideAndAncestorsAreNot) {
  // A child is inside our tree, our parent is not, and a caller that is gone is not judged at
  // all (its pid may already name someone else).
  HeldChild child;
  ASSERT_GT(child.pid(), 0);
  UniqueFd fd = PidfdOf(child.pid());
  ASSERT_TRUE(fd.valid());
  auto inside = InSupervisedTree(fd.get(), getpid());
  ASSERT_TRUE(inside.has_value()) << inside.error().message;
  EXPECT_TRUE(*inside);
  UniqueFd parent = PidfdOf(getppid());
  auto outside = InSupervisedTree(parent.get(), getpid());
  ASSERT_TRUE(outside.has_value()) << outside.error().message;
  EXPECT_FALSE(*outside);
  child.Release();
  auto gone = InSupervisedTree(fd.get(), getpid());
  ASSERT_FALSE(gone.has_value()) << "a reaped caller must not be judged";
  EXPECT_EQ(gone.error().code, ESRCH);
}

TEST(LocalTcpPeer, FindsTheProcessHoldingTheClientEnd) {
  UniqueFd server(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(server.get(), 4), 0);
  socklen_t len = sizeof addr;
  getsockname(server.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  sockaddr_in local{};
  len = sizeof local;
  getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len);
  const std::string peer = "ipv4:127.0.0.1:" + std::to_string(ntohs(local.sin_port));
  // Held by a child: the lookup skips the daemon's own descriptors.
  HeldChild child;
  ASSERT_GT(child.pid(), 0);
  client.reset();  // only the child holds the client end now
  auto found = LocalTcpPeer(peer, port);
  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_TRUE(found->local);
  EXPECT_EQ(found->socket_uid, geteuid());
  EXPECT_EQ(found->pids, std::vector<pid_t>{child.pid()});
  child.Release();
  auto remote = LocalTcpPeer("ipv4:192.0.2.7:5555", port);
  ASSERT_TRUE(remote.has_value());
  EXPECT_FALSE(remote->local);
  EXPECT_FALSE(LocalTcpPeer("unix:/x", port).has_value());
}

TEST(AuditLog, LinesAreJsonTheFileIsPrivateAndNeverPassesTwiceTheBound) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  constexpr size_t kMax = 1000;
  auto log = AuditLog::Open(path, kMax);
  ASSERT_TRUE(log.has_value()) << log.error().message;
  v1::AuditRecord r;
  r.set_unix_ms(1764583200123);
  r.set_caller("uid 1000 (pid 7)");
  r.set_rpc("Launch");
  r.set_guest_id(3);
  r.set_what(std::string("sh -c \"x\" \xff"));  // not UTF-8: replaced, not thrown
  r.set_result("OK");
  for (int i = 0; i < 50; ++i) {
    (*log)->Append(r);
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_LE(static_cast<size_t>(st.st_size), kMax);
  ASSERT_EQ(stat((path + ".1").c_str(), &st), 0);
  EXPECT_LE(static_cast<size_t>(st.st_size), kMax);
  std::istringstream lines(testing::ReadFile(path));
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  auto j = nlohmann::json::parse(line, nullptr, false);
  ASSERT_TRUE(j.is_object()) << line;
  EXPECT_EQ(j["time"], "2025-12-01T10:00:00.123Z");
  EXPECT_EQ(j["caller"], "uid 1000 (pid 7)");
  EXPECT_EQ(j["guest"], 3);
  // A symlink planted at the path is not followed.
  const std::string trap = dir.path() + "/trap.jsonl";
  ASSERT_EQ(symlink((dir.path() + "/elsewhere").c_str(), trap.c_str()), 0);
  EXPECT_FALSE(AuditLog::Open(trap, kMax).has_value());
}

}  // namespace
}  // namespace hijack::control
