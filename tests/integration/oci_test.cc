// hijackd as the seccomp agent of OCI runtimes (daemon/oci/oci_listener.h): real containers of
// runc and crun, made from a busybox-static root file system, whose profile names the daemon's
// --oci-listener socket in listenerPath, and of Docker through the runtime wrapper
// tools/docker/hijack-runc. What a container shows: a deny policy holds inside it, its calls are
// counted, hijackctl lists and re-polices it, `exec` joins its guest, its end ends the guest with
// its own exit status. What the socket survives: garbage, a closed connection, a message without
// a listener, a descriptor that is no listener, a policy name that is a path; and what it
// replaces at start (a stale socket) and what it does not (a live one, another file).
//
// The runtime tests need root (a runtime creates namespaces and cgroups) and the runtime itself
// (scripts/install-deps installs runc, crun, docker.io and busybox-static); they skip saying
// which is missing. The socket tests run as any user.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kDeadline = std::chrono::seconds(30);
constexpr const char* kBusybox = "/bin/busybox";

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string Which(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (Executable(path)) {
      return path;
    }
  }
  return "";
}

// The daemon with its API and the OCI socket in `dir`, and the policies a container may name.
class Daemon {
 public:
  explicit Daemon(const TempDir& dir, std::vector<std::string> extra = {})
      : api_("unix:" + dir.path() + "/api.sock"), oci_(dir.path() + "/oci.sock") {
    std::filesystem::create_directory(dir.path() + "/policies");
    dir.Write("policies/nomkdir.json", R"({"version": 1, "modules": [
        {"module": "deny", "syscalls": ["mkdir", "mkdirat"], "errno": "EPERM"},
        {"module": "stats", "syscalls": ["mkdir", "mkdirat", "execve", "getppid"]}]})");
    dir.Write("allow.json", R"({"version": 1, "modules": [
        {"module": "stats", "syscalls": ["mkdir", "mkdirat", "execve", "getppid"]}]})");
    std::vector<std::string> argv = {kHijackd, "serve", "--listen", api_, "--oci-listener", oci_,
                                     "--oci-policy-dir", dir.path() + "/policies"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<BackgroundProcess>(argv, dir.path());
    ready_ = process_->WaitForOutput("OCI seccomp agent on", kDeadline);
  }

  bool ready() const { return ready_; }
  const std::string& oci_socket() const { return oci_; }
  std::string Stderr() const { return process_->Stderr(); }
  ProcessResult Ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {kHijackctl, "--connect", api_});
    return RunProcess(args);
  }
  pid_t pid() const { return process_->pid(); }

 private:
  std::string api_;
  std::string oci_;
  std::unique_ptr<BackgroundProcess> process_;
  bool ready_ = false;
};

// ---- The socket, from a client of its own. ----

class OciSocketTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

int ConnectTo(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  return fd;
}

// Sends `text` with `fd` (when not -1) in SCM_RIGHTS, as a runtime sends its state, and closes.
bool SendState(const std::string& socket_path, const std::string& text, int fd) {
  int conn = ConnectTo(socket_path);
  if (conn < 0) {
    return false;
  }
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  const bool sent = sendmsg(conn, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  close(conn);
  return sent;
}

TEST_F(OciSocketTest, IsCreated0600) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  struct stat st {};
  ASSERT_EQ(stat(daemon.oci_socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// A socket mode that lets every user connect still admits only root, the daemon's uid and the
// listener's group: the peer is checked again.
TEST_F(OciSocketTest, OtherUsersAreRefusedWhateverTheMode) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to connect as another user";
  }
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  Daemon daemon(dir_, {"--oci-listener-mode", "0666"});
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    gid_t nobody = 65534;
    if (setgroups(0, nullptr) != 0 || setresgid(nobody, nobody, nobody) != 0 ||
        setresuid(nobody, nobody, nobody) != 0) {
      _exit(2);
    }
    // Connected is all it gets: the daemon closes the connection unread, so what it sends may
    // meet a closed socket (EPIPE).
    int fd = ConnectTo(daemon.oci_socket());
    if (fd < 0) {
      _exit(3);
    }
    [[maybe_unused]] ssize_t n = send(fd, "{}", 2, MSG_NOSIGNAL);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(Eventually(
      [&] {
        return daemon.Stderr().find("uid 65534 is neither root, the daemon's uid nor in the "
                                    "listener's group") != std::string::npos;
      },
      kDeadline))
      << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), Not(HasSubstr("/fds")));
}

// Every malformed message is refused with what was wrong, by JSON path, and the daemon goes on
// serving both its sockets.
TEST_F(OciSocketTest, MalformedConnectionsLeaveTheDaemonServing) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  const std::string& sock = daemon.oci_socket();
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  const std::string good_shape = R"({"ociVersion": "1.0.2", "fds": ["seccompFd"], "pid": 1,
      "state": {"ociVersion": "1.0.2", "id": "x", "status": "creating", "pid": 1,
                "bundle": "/nonexistent"}})";
  struct Case {
    std::string text;
    int fd;
    std::string said;
  } cases[] = {
      {"garbage{", -1, "syntax error"},
      {R"({"ociVersion": "1.0.2", "fds": ["seccompFd"]})", -1, "/fds: names 1 descriptors"},
      {R"({"ociVersion": 7, "fds": [], "pid": 1})", -1, "/ociVersion: expected a string"},
      {R"({"ociVersion": "1", "fds": ["seccompFd"], "pid": -4})", pipefd[0],
       "/pid: -4 is no process id"},
      {R"({"ociVersion": "1", "fds": ["other"], "pid": 4})", pipefd[0], "/fds: no \"seccompFd\""},
      {R"({"ociVersion": "1", "fds": ["seccompFd"], "pid": 4, "state": {"id": "x",
          "status": "creating", "pid": 4, "bundle": "relative"}})",
       pipefd[0], "/state/bundle: expected an absolute path"},
      {good_shape, pipefd[0], "/fds/0: the descriptor is not a seccomp listener"},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(SendState(sock, c.text, c.fd)) << c.text;
  }
  // A connection closed at once, and one that says nothing until its deadline passes.
  int silent = ConnectTo(sock);
  ASSERT_GE(silent, 0);
  close(ConnectTo(sock));
  EXPECT_TRUE(Eventually(
      [&] { return daemon.Stderr().find("within 2000 ms") != std::string::npos; }, kDeadline))
      << daemon.Stderr();
  close(silent);
  for (const Case& c : cases) {
    EXPECT_TRUE(Eventually(
        [&] { return daemon.Stderr().find(c.said) != std::string::npos; }, kDeadline))
        << "expected \"" << c.said << "\" in:\n"
        << daemon.Stderr();
  }
  EXPECT_THAT(daemon.Stderr(), HasSubstr("closed before a state message"));
  close(pipefd[0]);
  close(pipefd[1]);
  // Still serving: the API answers, and the OCI socket accepts.
  auto guests = daemon.Ctl({"guests"});
  EXPECT_EQ(guests.exit_code, 0) << guests.err << daemon.Stderr();
  int again = ConnectTo(sock);
  EXPECT_GE(again, 0);
  close(again);
  EXPECT_EQ(kill(daemon.pid(), 0), 0);
}

// A socket left by a daemon that died without removing it (a crash, SIGKILL) is replaced.
TEST_F(OciSocketTest, StaleSocketIsReplaced) {
  int left = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(left, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = dir_.path() + "/oci.sock";
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(left, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(left, 1), 0);
  close(left);  // the file stays, and nothing listens on it
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr("removed the stale socket " + path));
  int conn = ConnectTo(path);
  EXPECT_GE(conn, 0);
  close(conn);
}

// A socket a live daemon serves, and a file that is no socket, are left alone, and the second
// daemon says why it does not start.
TEST_F(OciSocketTest, LiveSocketAndOtherFilesAreKept) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  ProcessOptions bounded;
  bounded.deadline = kDeadline;
  auto second = RunProcess({kHijackd, "serve", "--listen", "unix:" + dir_.path() + "/api2.sock",
                            "--oci-listener", daemon.oci_socket()},
                           bounded);
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.err, HasSubstr(daemon.oci_socket() +
                                    ": a live socket, something listens on it already"));
  int conn = ConnectTo(daemon.oci_socket());
  EXPECT_GE(conn, 0) << "the first daemon's socket is gone";
  close(conn);

  const std::string file = dir_.Write("not-a-socket", "keep me");
  auto over_file = RunProcess({kHijackd, "serve", "--listen",
                               "unix:" + dir_.path() + "/api3.sock", "--oci-listener", file},
                              bounded);
  EXPECT_NE(over_file.exit_code, 0);
  EXPECT_THAT(over_file.err, HasSubstr(file + ": exists and is not a socket (a regular file)"));
  EXPECT_EQ(ReadFile(file), "keep me");
}

// ---- Real containers. ----

// Whether pidfds keep a reaped process's exit status (PIDFD_GET_INFO with PIDFD_INFO_EXIT,
// Linux 6.15): asked of a child of the test's own, reaped before the question.
bool KernelKeepsExitStatus() {
  // The pidfd is opened while the child runs, as the daemon's is: a kernel may record the
  // status only for a process that had a pidfd when it ended.
  int hold[2];
  if (pipe2(hold, O_CLOEXEC) != 0) {
    return false;
  }
  pid_t child = fork();
  if (child == 0) {
    char c;
    [[maybe_unused]] ssize_t n = read(hold[0], &c, 1);
    _exit(3);
  }
  close(hold[0]);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  close(hold[1]);
  int status = 0;
  waitpid(child, &status, 0);
  if (pidfd < 0) {
    return false;
  }
  struct {
    uint64_t mask;
    uint64_t cgroupid;
    uint32_t ids[11];
    int32_t exit_code;
  } info{};
  info.mask = 1u << 3;  // PIDFD_INFO_EXIT
  const bool kept = ioctl(pidfd, _IOWR(0xFF, 11, decltype(info)), &info) == 0 &&
                    (info.mask & (1u << 3)) != 0 && info.exit_code == status;
  close(pidfd);
  return kept;
}

// On a hybrid cgroup host (v1 hierarchies on a tmpfs at /sys/fs/cgroup, cgroup2 at its
// "unified"), the controllers the cgroup2 mount holds (cgroups(7)); empty elsewhere.
std::string Cgroup2ControllersOfHybridHost() {
  struct statfs root {};
  struct statfs unified {};
  if (statfs("/sys/fs/cgroup", &root) != 0 || root.f_type != TMPFS_MAGIC ||
      statfs("/sys/fs/cgroup/unified", &unified) != 0 || unified.f_type != CGROUP2_SUPER_MAGIC) {
    return "";
  }
  std::string controllers = ReadFile("/sys/fs/cgroup/unified/cgroup.controllers");
  std::erase_if(controllers, [](char c) { return c == '\n'; });
  return controllers;
}

// A bundle: busybox-static as the whole root file system, the runtime's own default config
// (`runc spec`), a seccomp profile that sends the policed calls to the daemon.
class Bundle {
 public:
  Bundle(const TempDir& dir, const std::string& name, const std::string& socket,
         const std::string& metadata, const std::string& script)
      : path_(dir.path() + "/" + name) {
    std::filesystem::create_directories(path_ + "/rootfs/bin");
    std::filesystem::create_directories(path_ + "/rootfs/tmp");
    std::filesystem::copy_file(kBusybox, path_ + "/rootfs/bin/busybox");
    for (const char* applet : {"sh", "mkdir", "echo", "usleep", "test", "cat"}) {
      std::filesystem::create_symlink("busybox", path_ + "/rootfs/bin/" + applet);
    }
    auto spec = RunProcess({Which("runc"), "spec", "--bundle", path_});
    if (spec.exit_code != 0) {
      error_ = "runc spec: " + spec.err;
      return;
    }
    nlohmann::json config = nlohmann::json::parse(ReadFile(path_ + "/config.json"));
    config["process"]["terminal"] = false;
    config["process"]["args"] = {"/bin/sh", "-c", script};
    config["root"]["readonly"] = false;
    config["hostname"] = name;
    if (socket.empty()) {
      config["linux"].erase("seccomp");
      std::ofstream(path_ + "/config.json") << config.dump(1);
      return;
    }
    // runc needs the default allow with the notify action on listed calls (a notify default
    // would send the runtime's own futex and write calls too).
    config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"listenerPath", socket},
        {"listenerMetadata", metadata},
        {"architectures", {"SCMP_ARCH_X86_64"}},
        {"syscalls",
         {{{"names", {"mkdir", "mkdirat", "execve", "execveat", "getppid"}},
           {"action", "SCMP_ACT_NOTIFY"}}}}};
    std::ofstream(path_ + "/config.json") << config.dump(1);
  }
  const std::string& path() const { return path_; }
  const std::string& error() const { return error_; }
  std::string rootfs(const std::string& file) const { return path_ + "/rootfs/" + file; }

 private:
  std::string path_;
  std::string error_;
};

class OciRuntimeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "an OCI runtime needs root to create a container";
    }
    runtime_ = Which(GetParam());
    if (runtime_.empty()) {
      GTEST_SKIP() << GetParam() << " is not installed (scripts/install-deps)";
    }
    if (Which("runc").empty()) {
      GTEST_SKIP() << "runc is not installed: its `spec` writes the bundle's config";
    }
    if (!Executable(kBusybox) || RunProcess({"/usr/bin/file", kBusybox}).out.find("static") ==
                                      std::string::npos) {
      GTEST_SKIP() << kBusybox << " is not busybox-static (scripts/install-deps)";
    }
    id_ = "hijack-oci-" + GetParam() + "-" + std::to_string(getpid());
    // crun (1.8 at least) refuses a hybrid host whose cgroup2 mount holds a controller ("cgroups
    // in hybrid mode not supported, drop all controllers from cgroupv2"), whatever its
    // --cgroup-manager. In a mount namespace without that mount it sees a cgroup v1 host and
    // places the container in the v1 hierarchies: what README "Containers and Kubernetes" tells
    // an operator of such a host to do.
    if (GetParam() == "crun") {
      hide_cgroup2_ = !Cgroup2ControllersOfHybridHost().empty();
      if (hide_cgroup2_ && Which("unshare").empty()) {
        GTEST_SKIP() << "crun refuses this hybrid cgroup host and unshare(1) is not installed";
      }
    }
    // Whether the runtime runs a container on this host at all.
    Bundle probe(dir_, "probe", "", "", "echo probe-ran");
    ASSERT_EQ(probe.error(), "");
    auto ran = RunProcess(Runtime({"run", "--bundle", probe.path(), id_ + "-probe"}));
    RunProcess(Runtime({"delete", "--force", id_ + "-probe"}));
    if (ran.out.find("probe-ran") == std::string::npos) {
      GTEST_SKIP() << GetParam() << " cannot run a container on this host: " << ran.err;
    }
  }

  void TearDown() override {
    if (!runtime_.empty() && geteuid() == 0) {
      RunProcess(Runtime({"delete", "--force", id_}));
    }
  }

  std::vector<std::string> Runtime(std::vector<std::string> args) const {
    args.insert(args.begin(), {runtime_, "--root", dir_.path() + "/state"});
    if (hide_cgroup2_) {
      args.insert(args.begin(),
                  {Which("unshare"), "--mount", "--propagation", "private", "/bin/sh", "-c",
                   "umount /sys/fs/cgroup/unified && exec \"$0\" \"$@\""});
    }
    return args;
  }

  TempDir dir_;
  std::string runtime_;
  std::string id_;
  bool hide_cgroup2_ = false;  // run the runtime where /sys/fs/cgroup/unified is not mounted
};

// The guest of the container named `id` in `hijackctl guests`, or 0.
uint64_t GuestOf(const Daemon& daemon, const std::string& id) {
  auto listed = daemon.Ctl({"guests"});
  std::istringstream lines(listed.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("oci:" + id) != std::string::npos) {
      return std::strtoull(line.c_str(), nullptr, 10);
    }
  }
  return 0;
}

TEST_P(OciRuntimeTest, ContainerIsAGuestOfItsPolicy) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  // The container tries a denied call, says so, then waits for the test's word (a file in its
  // root) before it ends.
  Bundle bundle(dir_, "bundle", daemon.oci_socket(), "nomkdir",
                "mkdir /made 2>&1; echo \"mkdir=$?\"; echo ready; "
                "while ! test -e /go; do usleep 10000; done; echo done");
  ASSERT_EQ(bundle.error(), "");
  BackgroundProcess run(Runtime({"run", "--bundle", bundle.path(), id_}), dir_.path());
  ASSERT_TRUE(run.WaitForOutput("ready", kDeadline)) << run.Stderr() << daemon.Stderr();

  // The deny policy holds inside the container.
  EXPECT_THAT(run.Stdout(), HasSubstr("Operation not permitted")) << run.Stdout();
  EXPECT_THAT(run.Stdout(), HasSubstr("mkdir=1"));
  EXPECT_FALSE(std::filesystem::exists(bundle.rootfs("made")));

  // hijackctl sees it like any guest.
  const uint64_t guest = GuestOf(daemon, id_);
  ASSERT_NE(guest, 0u) << daemon.Ctl({"guests"}).out << daemon.Stderr();
  auto shown = daemon.Ctl({"show", std::to_string(guest)});
  EXPECT_THAT(shown.out, HasSubstr("state:          running")) << shown.out;
  EXPECT_THAT(shown.out, HasSubstr("bundle=" + bundle.path())) << shown.out;
  EXPECT_THAT(shown.out, HasSubstr("policy=nomkdir")) << shown.out;
  auto stats = daemon.Ctl({"stats", std::to_string(guest)});
  EXPECT_THAT(stats.out, HasSubstr("mkdir")) << stats.out << stats.err;
  // The runtime's own calls before the entry point (runc init's) are not the container's: the
  // only execve counted is the entry point's.
  EXPECT_THAT(daemon.Stderr(), Not(HasSubstr("refused")));

  // `exec` joins the same guest, under the same policy (crun 1.8.1's exec says pid 0: it joins
  // by the container's id and init).
  auto exec = RunProcess(Runtime({"exec", id_, "/bin/sh", "-c", "mkdir /exec 2>&1; echo e=$?"}));
  EXPECT_THAT(exec.out, HasSubstr("e=1")) << exec.out << exec.err << daemon.Stderr();
  EXPECT_FALSE(std::filesystem::exists(bundle.rootfs("exec")));
  EXPECT_THAT(daemon.Stderr(), HasSubstr("joins guest " + std::to_string(guest)));
  // One guest for the container, not one per connection.
  auto listed = daemon.Ctl({"guests"});
  size_t rows = 0;
  for (size_t at = listed.out.find("oci:"); at != std::string::npos;
       at = listed.out.find("oci:", at + 1)) {
    ++rows;
  }
  EXPECT_EQ(rows, 1u) << listed.out;

  // A new policy through the API reaches the container's processes, old and new.
  auto set = daemon.Ctl({"policy", "set", std::to_string(guest), dir_.path() + "/allow.json"});
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  auto allowed =
      RunProcess(Runtime({"exec", id_, "/bin/sh", "-c", "mkdir /allowed 2>&1; echo a=$?"}));
  EXPECT_THAT(allowed.out, HasSubstr("a=0")) << allowed.out << allowed.err;
  EXPECT_TRUE(std::filesystem::exists(bundle.rootfs("allowed")));

  // The container's end ends the guest.
  dir_.Write("bundle/rootfs/go", "");
  auto ended = run.Stop(0, kDeadline);
  EXPECT_THAT(run.Stdout(), HasSubstr("done"));
  EXPECT_TRUE(Eventually(
      [&] {
        return daemon.Ctl({"show", std::to_string(guest)}).out.find("state:          running") ==
               std::string::npos;
      },
      kDeadline))
      << daemon.Ctl({"show", std::to_string(guest)}).out;
  (void)ended;
}

// The container's exit status is its own, even when its runtime, the process's parent, reaps it
// before the daemon looks.
TEST_P(OciRuntimeTest, ExitStatusIsTheContainers) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  Bundle bundle(dir_, "bundle", daemon.oci_socket(), "nomkdir", "echo started; exit 7");
  ASSERT_EQ(bundle.error(), "");
  auto run = RunProcess(Runtime({"run", "--bundle", bundle.path(), id_}));
  EXPECT_EQ(run.exit_code, 7) << run.out << run.err << daemon.Stderr();
  EXPECT_THAT(run.out, HasSubstr("started"));
  const uint64_t guest = GuestOf(daemon, id_);
  ASSERT_NE(guest, 0u) << daemon.Ctl({"guests"}).out << daemon.Stderr();
  std::string shown;
  EXPECT_TRUE(Eventually(
      [&] {
        shown = daemon.Ctl({"show", std::to_string(guest)}).out;
        return shown.find("state:          running") == std::string::npos;
      },
      kDeadline))
      << shown;
  // On a kernel that keeps no status for a reaped process (PIDFD_INFO_EXIT came with Linux
  // 6.15), the daemon may say it does not know; it never says a wrong status.
  if (shown.find("exit status unknown") == std::string::npos) {
    EXPECT_THAT(shown, HasSubstr("state:          exited with status 7")) << shown;
  } else {
    EXPECT_FALSE(KernelKeepsExitStatus()) << shown;
  }
}

// A name that is a path, and a name the directory does not hold, are refused: the container
// does not start, and the daemon says why.
TEST_P(OciRuntimeTest, MetadataCannotLeaveThePolicyDirectory) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  dir_.Write("outside.json", R"({"version": 1, "modules": []})");
  Bundle bundle(dir_, "bundle", daemon.oci_socket(), "../outside", "echo started");
  ASSERT_EQ(bundle.error(), "");
  auto run = RunProcess(Runtime({"run", "--bundle", bundle.path(), id_}));
  EXPECT_NE(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, Not(HasSubstr("started")));
  EXPECT_TRUE(Eventually(
      [&] { return daemon.Stderr().find("/metadata: not a policy name") != std::string::npos; },
      kDeadline))
      << daemon.Stderr();
  EXPECT_EQ(GuestOf(daemon, id_), 0u);
  EXPECT_EQ(daemon.Ctl({"guests"}).exit_code, 0);
}

// ---- Docker, through the runtime wrapper tools/docker/hijack-runc. ----

// Whether child `pid` has ended (a zombie not yet reaped, or gone).
bool Ended(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z';
}

// A Docker engine of the test's own: containerd and dockerd with their state, sockets and pid
// files in `dir`, no network set-up, the wrapper registered as runtime "hijack" with the daemon's
// socket. Both are stopped by pid (SIGTERM) when it goes.
class DockerEngine {
 public:
  DockerEngine(const TempDir& dir, const std::string& oci_socket) : dir_(dir.path()) {
    dir.Write("containerd.toml", "version = 2\nroot = \"" + dir_ + "/containerd\"\nstate = \"" +
                                     dir_ + "/containerd-state\"\n[grpc]\n  address = \"" + dir_ +
                                     "/containerd.sock\"\n[plugins.\"io.containerd.grpc.v1.cri\"]\n"
                                     "  disable = true\n");
    containerd_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{Which("containerd"), "--config", dir_ + "/containerd.toml"},
        dir_);
    if (!Eventually([&] { return std::filesystem::exists(dir_ + "/containerd.sock"); },
                    kDeadline)) {
      error_ = "containerd did not start: " + containerd_->Stderr();
      return;
    }
    nlohmann::json config = {
        {"runtimes",
         {{"hijack",
           {{"path", std::string(kSourceDir) + "/tools/docker/hijack-runc"},
            {"runtimeArgs", {"--hijack-listener=" + oci_socket}}}}}}};
    dir.Write("daemon.json", config.dump());
    dockerd_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{Which("dockerd"), "--config-file", dir_ + "/daemon.json",
                                 "--data-root", dir_ + "/docker", "--exec-root",
                                 dir_ + "/docker-exec", "--pidfile", dir_ + "/dockerd.pid", "-H",
                                 "unix://" + dir_ + "/docker.sock", "--containerd",
                                 dir_ + "/containerd.sock", "--bridge=none", "--iptables=false"},
        dir_);
    const auto listening = [&] {
      return dockerd_->Stderr().find("API listen on") != std::string::npos;
    };
    if (!Eventually([&] { return listening() || Ended(dockerd_->pid()); }, kDeadline) ||
        !listening()) {
      error_ = "dockerd did not start: " + dockerd_->Stderr();
    }
  }
  ~DockerEngine() {
    if (dockerd_) {
      dockerd_->Stop(SIGTERM, kDeadline);
    }
    if (containerd_) {
      containerd_->Stop(SIGTERM, kDeadline);
    }
  }

  const std::string& error() const { return error_; }
  ProcessResult Docker(std::vector<std::string> args) const {
    args.insert(args.begin(), {Which("docker"), "-H", "unix://" + dir_ + "/docker.sock"});
    ProcessOptions options;
    options.env_add = {"DOCKER_CONFIG=" + dir_ + "/docker-cli"};
    return RunProcess(args, options);
  }

 private:
  std::string dir_;
  std::string error_;
  std::unique_ptr<BackgroundProcess> containerd_;
  std::unique_ptr<BackgroundProcess> dockerd_;
};

class DockerShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "dockerd needs root";
    }
    for (const char* program : {"dockerd", "docker", "containerd", "runc", "python3"}) {
      if (Which(program).empty()) {
        GTEST_SKIP() << program << " is not installed (scripts/install-deps: docker.io)";
      }
    }
    if (!Executable(kBusybox) || RunProcess({"/usr/bin/file", kBusybox}).out.find("static") ==
                                      std::string::npos) {
      GTEST_SKIP() << kBusybox << " is not busybox-static (scripts/install-deps)";
    }
  }
  TempDir dir_;
};

// Docker 20.10 drops listenerPath from the profile; the wrapper puts it back with the policy of
// the container's label, and the container is a guest of that policy.
TEST_F(DockerShimTest, LabelledContainerIsAGuestOfItsPolicy) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.ready()) << daemon.Stderr();
  DockerEngine engine(dir_, daemon.oci_socket());
  if (!engine.error().empty()) {
    GTEST_SKIP() << engine.error();
  }
  // The image: busybox-static as the whole root file system.
  const std::string rootfs = dir_.path() + "/rootfs";
  std::filesystem::create_directories(rootfs + "/bin");
  std::filesystem::copy_file(kBusybox, rootfs + "/bin/busybox");
  std::filesystem::create_symlink("busybox", rootfs + "/bin/sh");
  auto tar = RunProcess({"/bin/tar", "-C", rootfs, "-cf", dir_.path() + "/rootfs.tar", "."});
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  const std::string image = "hijack-busybox:" + std::to_string(getpid());
  auto imported = engine.Docker({"import", dir_.path() + "/rootfs.tar", image});
  ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  // Docker's profile format; its listenerPath is what Docker drops.
  dir_.Write("profile.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
      "listenerPath": ")" + daemon.oci_socket() + R"(",
      "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["mkdir", "mkdirat", "execve", "execveat", "getppid"],
                    "action": "SCMP_ACT_NOTIFY"}]})");
  auto run = engine.Docker({"run", "--rm", "--runtime", "hijack", "--security-opt",
                            "seccomp=" + dir_.path() + "/profile.json", "--label",
                            "org.hijack.policy=nomkdir", "--cidfile", dir_.path() + "/cid", image,
                            "/bin/busybox", "sh", "-c",
                            "/bin/busybox mkdir /made 2>&1; echo \"mkdir=$?\""});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err << daemon.Stderr();
  EXPECT_THAT(run.out, HasSubstr("Operation not permitted")) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("mkdir=1"));
  const std::string id = ReadFile(dir_.path() + "/cid");
  ASSERT_FALSE(id.empty());
  const uint64_t guest = GuestOf(daemon, id);
  ASSERT_NE(guest, 0u) << daemon.Ctl({"guests"}).out << daemon.Stderr();
  auto shown = daemon.Ctl({"show", std::to_string(guest)});
  EXPECT_THAT(shown.out, HasSubstr("policy=nomkdir")) << shown.out;
  // A label that asks for a policy with a profile that sends nothing to the agent is refused:
  // the container would run unpoliced.
  auto unpoliced = engine.Docker({"run", "--rm", "--runtime", "hijack", "--label",
                                  "org.hijack.policy=nomkdir", image, "/bin/busybox", "true"});
  EXPECT_NE(unpoliced.exit_code, 0) << unpoliced.out;
  EXPECT_THAT(unpoliced.err, HasSubstr("sends no call to the agent")) << unpoliced.err;
}

INSTANTIATE_TEST_SUITE_P(Runtimes, OciRuntimeTest, ::testing::Values("runc", "crun"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hijack::testing
