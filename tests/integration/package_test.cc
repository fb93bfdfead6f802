// The installed product, not the build tree: `cmake --install` into a prefix that is then moved,
// the Debian package unpacked into a scratch root, `hijackd serve` started by socket activation,
// and the systemd units checked by systemd-analyze.
//
// Each installed hijackd runs from outside the build tree, so it must find its agent and its
// policy host relative to its own binary (common/install_layout.h). The tests that take a file
// away from the installation prove that nothing falls back to the build tree's copy, which
// still exists next door.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

namespace fs = std::filesystem;

const std::string kBuildDir = HIJACK_TEST_BUILD_DIR;
const std::string kHijackd = HIJACK_TEST_HIJACKD;
const std::string kHijackctl = HIJACK_TEST_HIJACKCTL;
const std::string kGuest = HIJACK_TEST_PACKAGE_GUEST;
const std::string kVersion = HIJACK_TEST_VERSION;

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

ProcessOptions Env(std::string variable) {
  ProcessOptions options;
  options.env_add = {std::move(variable)};
  return options;
}

ProcessOptions Deadline(std::chrono::seconds deadline) {
  ProcessOptions options;
  options.deadline = deadline;
  return options;
}

// `cmake --install` of this build into `prefix`; the test fails (not skips) when it does not.
void Install(const std::string& prefix) {
  ProcessResult r = RunProcess({HIJACK_TEST_CMAKE, "--install", kBuildDir, "--prefix", prefix});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

// The line of `hijackd --version` about the agent ("  agent   <detail>").
std::string AgentLine(const std::string& hijackd) {
  ProcessResult r = RunProcess({hijackd, "--version"}, Env("HIJACK_AGENT_LIBRARY="));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (size_t at = 0; at < r.out.size();) {
    size_t end = r.out.find('\n', at);
    std::string line = r.out.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.starts_with("  agent ")) {
      return line;
    }
    if (end == std::string::npos) {
      break;
    }
    at = end + 1;
  }
  ADD_FAILURE() << "no agent line in hijackd --version:\n" << r.out;
  return "";
}

class InstallTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// An installation moved after `cmake --install` still finds its own agent, and a guest under it
// runs with the agent active.
TEST_F(InstallTest, MovedPrefixRunsWithItsOwnAgent) {
  const std::string first = dir_.path() + "/first";
  ASSERT_NO_FATAL_FAILURE(Install(first));
  const std::string moved = dir_.path() + "/moved";
  fs::rename(first, moved);
  const std::string hijackd = moved + "/bin/hijackd";
  ASSERT_TRUE(Executable(hijackd));
  ASSERT_TRUE(Executable(moved + "/bin/hijackctl"));

  const std::string agent = moved + "/lib/hijack/libhijack-agent.so";
  const std::string line = AgentLine(hijackd);
  EXPECT_NE(line.find(agent), std::string::npos) << line;
  EXPECT_EQ(line.find(kBuildDir), std::string::npos) << "the build tree's agent: " << line;

  ProcessResult t = RunProcess({hijackd, "run", "--quiet", "--", "/bin/true"});
  EXPECT_EQ(t.exit_code, 0) << t.err;
  // The agent is active: the guest has the installed library mapped (the agent hides its
  // LD_PRELOAD from the guest's environment, not its mapping).
  ProcessResult r =
      RunProcess({hijackd, "run", "--backend", "notify", "--", "/bin/cat", "/proc/self/maps"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(agent), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("hijackd: agent: "), std::string::npos) << r.err;
}

// With the agent taken out of the installation, the installed hijackd runs without one and says
// where it looked: it does not take the build tree's library, which is still there.
TEST_F(InstallTest, MissingAgentIsNotTakenFromTheBuildTree) {
  const std::string prefix = dir_.path() + "/p";
  ASSERT_NO_FATAL_FAILURE(Install(prefix));
  ASSERT_TRUE(fs::exists(kBuildDir + "/agent/libhijack-agent.so"));
  fs::remove(prefix + "/lib/hijack/libhijack-agent.so");
  const std::string line = AgentLine(prefix + "/bin/hijackd");
  EXPECT_NE(line.find("not found"), std::string::npos) << line;
  EXPECT_NE(line.find(prefix + "/lib/hijack/libhijack-agent.so"), std::string::npos) << line;
  EXPECT_EQ(line.find(kBuildDir), std::string::npos) << line;
  ProcessResult r = RunProcess({prefix + "/bin/hijackd", "run", "--backend", "notify", "--",
                                "/bin/cat", "/proc/self/maps"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("libhijack-agent"), std::string::npos) << r.out;
}

// The installed example policy names the installed example plugin, and the installed policy
// host runs it: the plugin fails personality with EPERM.
TEST_F(InstallTest, InstalledPluginPolicyUsesTheInstalledPolicyHost) {
  const std::string prefix = dir_.path() + "/p";
  ASSERT_NO_FATAL_FAILURE(Install(prefix));
  const std::string policy = prefix + "/share/hijack/policies/plugin.json";
  const std::string text = ReadFile(policy);
  const std::string plugin = prefix + "/lib/hijack/libhijack_example_plugin.so";
  EXPECT_NE(text.find("\"" + plugin + "\""), std::string::npos) << text;
  ASSERT_TRUE(fs::exists(plugin));
  ASSERT_TRUE(Executable(prefix + "/lib/hijack/hijack-policy-host"));
  for (const char* name : {"default.json", "fs_guard.json", "README.md"}) {
    EXPECT_TRUE(fs::exists(prefix + "/share/hijack/policies/" + name)) << name;
  }
  EXPECT_TRUE(fs::exists(prefix + "/share/doc/hijack/README.md"));
  EXPECT_TRUE(fs::exists(prefix + "/include/hijack/plugin.h"));

  ProcessResult ok = RunProcess({prefix + "/bin/hijackd", "check", policy});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  ProcessResult r = RunProcess({prefix + "/bin/hijackd", "run", "--quiet", "--policy", policy,
                                "--", kGuest, "personality"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "personality: EPERM\n") << r.err;

  // Without its policy host the installation fails that policy closed and names the path it
  // looked for, not the build tree's helper.
  fs::remove(prefix + "/lib/hijack/hijack-policy-host");
  ProcessResult gone = RunProcess({prefix + "/bin/hijackd", "run", "--quiet", "--policy", policy,
                                   "--", "/bin/true"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find(prefix + "/lib/hijack/hijack-policy-host"), std::string::npos)
      << gone.err;
  EXPECT_EQ(gone.err.find(kBuildDir + "/daemon/hijack-policy-host"), std::string::npos)
      << gone.err;
}

// A wrong HIJACK_AGENT_LIBRARY is an error that names the variable and the path, never a
// silent run without the agent.
TEST(AgentLibraryVariableTest, WrongValueIsAnError) {
  TempDir dir;
  const std::string missing = dir.path() + "/no-such-agent.so";
  ProcessResult r = RunProcess({kHijackd, "run", "--", "/bin/true"},
                               Env("HIJACK_AGENT_LIBRARY=" + missing));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("HIJACK_AGENT_LIBRARY"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ENOENT"), std::string::npos) << r.err;

  const std::string text = dir.Write("agent.so", "not a library\n");
  ProcessResult t = RunProcess({kHijackd, "run", "--", "/bin/true"},
                               Env("HIJACK_AGENT_LIBRARY=" + text));
  EXPECT_EQ(t.exit_code, 2) << t.err;
  EXPECT_NE(t.err.find(text + " named by HIJACK_AGENT_LIBRARY is not an ELF"), std::string::npos)
      << t.err;

  ProcessResult d = RunProcess({kHijackd, "run", "--", "/bin/true"},
                               Env("HIJACK_AGENT_LIBRARY=" + dir.path()));
  EXPECT_EQ(d.exit_code, 2) << d.err;
  EXPECT_NE(d.err.find("is not a regular file"), std::string::npos) << d.err;

  // --no-agent needs no agent, so a wrong variable does not stop it.
  ProcessResult n = RunProcess({kHijackd, "run", "--no-agent", "--quiet", "--", "/bin/true"},
                               Env("HIJACK_AGENT_LIBRARY=" + missing));
  EXPECT_EQ(n.exit_code, 0) << n.err;
}

// The Debian package: control fields, then unpacked into a scratch root and run from there.
TEST(DebianPackageTest, BuildsUnpacksAndRuns) {
#if defined(HIJACK_SANITIZED_BUILD)
  GTEST_SKIP() << "the package is made from the release build (.ci/package installs it); "
                  "packing this instrumented tree took two minutes and proved nothing more";
#endif
  if (!Executable("/usr/bin/dpkg-deb") || !Executable("/usr/bin/dpkg-shlibdeps")) {
    GTEST_SKIP() << "dpkg-deb or dpkg-shlibdeps (package dpkg-dev) is not installed; "
                    "scripts/install-deps installs them";
  }
  TempDir dir;
  ProcessResult built = RunProcess({HIJACK_TEST_CPACK, "-G", "DEB", "--config",
                                    kBuildDir + "/CPackConfig.cmake", "-B", dir.path()},
                                   Deadline(std::chrono::seconds(240)));
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  const std::string deb = dir.path() + "/hijack_" + kVersion + "_amd64.deb";
  ASSERT_TRUE(fs::exists(deb)) << built.out;

  ProcessResult fields = RunProcess({"/usr/bin/dpkg-deb", "-f", deb, "Package", "Version",
                                     "Architecture", "Depends"});
  ASSERT_EQ(fields.exit_code, 0) << fields.err;
  EXPECT_NE(fields.out.find("Package: hijack\n"), std::string::npos) << fields.out;
  EXPECT_NE(fields.out.find("Version: " + kVersion + "\n"), std::string::npos) << fields.out;
  EXPECT_NE(fields.out.find("Architecture: amd64\n"), std::string::npos) << fields.out;
  // dpkg-shlibdeps found the libraries the binaries link.
  EXPECT_NE(fields.out.find("Depends: "), std::string::npos) << fields.out;
  EXPECT_NE(fields.out.find("libc6"), std::string::npos) << fields.out;
  EXPECT_NE(fields.out.find("libseccomp2"), std::string::npos) << fields.out;
  EXPECT_NE(fields.out.find("libgrpc++"), std::string::npos) << fields.out;

  ProcessResult listing = RunProcess({"/usr/bin/dpkg-deb", "-c", deb});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_EQ(listing.out.find(kBuildDir), std::string::npos) << listing.out;
  EXPECT_EQ(listing.out.find("/usr/local"), std::string::npos) << listing.out;
  for (const char* path :
       {"./usr/bin/hijackd", "./usr/bin/hijackctl", "./usr/lib/hijack/libhijack-agent.so",
        "./usr/lib/hijack/hijack-policy-host", "./usr/lib/hijack/libhijack_example_plugin.so",
        "./usr/share/hijack/policies/plugin.json", "./lib/systemd/system/hijackd.service",
        "./lib/systemd/system/hijackd.socket", "./usr/share/doc/hijack/README.md"}) {
    EXPECT_NE(listing.out.find(std::string(path) + "\n"), std::string::npos) << path;
  }
  for (size_t at = 0; at < listing.out.size();) {
    size_t end = listing.out.find('\n', at);
    const std::string line = listing.out.substr(at, end - at);
    EXPECT_NE(line.find(" root/root "), std::string::npos) << "not root's: " << line;
    at = end == std::string::npos ? listing.out.size() : end + 1;
  }

  const std::string root = dir.path() + "/root";
  ProcessResult unpacked = RunProcess({"/usr/bin/dpkg-deb", "-x", deb, root});
  ASSERT_EQ(unpacked.exit_code, 0) << unpacked.err;
  const std::string unit = ReadFile(root + "/lib/systemd/system/hijackd.service");
  EXPECT_NE(unit.find("\nExecStart=/usr/bin/hijackd serve --listen unix:/run/hijack.sock\n"),
            std::string::npos)
      << unit;
  EXPECT_NE(ReadFile(root + "/usr/share/hijack/policies/plugin.json")
                .find("\"/usr/lib/hijack/libhijack_example_plugin.so\""),
            std::string::npos);
  // Run from the scratch root: the agent comes from that root, not from /usr or the build.
  const std::string hijackd = root + "/usr/bin/hijackd";
  const std::string line = AgentLine(hijackd);
  EXPECT_NE(line.find(root + "/usr/lib/hijack/libhijack-agent.so"), std::string::npos) << line;
  ProcessResult r =
      RunProcess({hijackd, "run", "--backend", "notify", "--", "/bin/cat", "/proc/self/maps"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(root + "/usr/lib/hijack/libhijack-agent.so"), std::string::npos) << r.out;
}

// `hijackd serve` with its socket passed the way systemd passes it (sd_listen_fds(3)): descriptor
// 3, LISTEN_FDS=1, LISTEN_PID = the pid that execs hijackd.
class ActivatedServe {
 public:
  // Binds `path` with `mode` and starts `hijackd serve --listen unix:<listen>` (default: `path`)
  // with it as descriptor 3.
  ActivatedServe(const std::string& dir, const std::string& path, unsigned mode,
                 std::vector<std::string> extra_args, std::string listen = "") {
    out_ = dir + "/serve.out";
    err_ = dir + "/serve.err";
    sock_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const mode_t old = umask(0177);
    const int bound = bind(sock_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    umask(old);
    EXPECT_EQ(bound, 0) << std::strerror(errno);
    EXPECT_EQ(::listen(sock_, 16), 0) << std::strerror(errno);
    EXPECT_EQ(chmod(path.c_str(), mode), 0) << std::strerror(errno);
    std::vector<std::string> argv = {kHijackd, "serve", "--listen",
                                     "unix:" + (listen.empty() ? path : listen)};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    pid_ = fork();
    if (pid_ == 0) {
      const int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      const int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      // dup2 of a descriptor onto itself keeps its close-on-exec flag: cleared explicitly.
      if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
          (sock_ == 3 ? fcntl(3, F_SETFD, 0) : dup2(sock_, 3)) < 0) {
        _exit(127);
      }
      setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
      setenv("LISTEN_FDS", "1", 1);
      setenv("LISTEN_FDNAMES", "hijackd.socket", 1);
      std::vector<char*> args;
      for (auto& a : argv) {
        args.push_back(a.data());
      }
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(sock_);  // hijackd holds it now; the test connects through the path
  }
  ~ActivatedServe() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool Listening() {
    return Eventually([&] {
      return ReadFile(out_).find("listening on") != std::string::npos || Exited();
    }) && !Exited();
  }
  bool Exited() {
    if (status_) {
      return true;
    }
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = st;
    }
    return status_.has_value();
  }
  // Waits for the exit (SIGTERM first when asked); the exit status, shell style.
  int Wait(bool terminate) {
    if (terminate && !Exited()) {
      kill(pid_, SIGTERM);
    }
    if (!Eventually([&] { return Exited(); })) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      return -1;
    }
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }
  std::string Err() const { return ReadFile(err_); }

 private:
  int sock_ = -1;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_, err_;
};

TEST(SocketActivationTest, ServesHealthOnThePassedSocket) {
  TempDir dir;
  const std::string path = dir.path() + "/hijack.sock";
  ActivatedServe serve(dir.path(), path, 0600, {});
  ASSERT_TRUE(serve.Listening()) << serve.Err();
  ProcessResult h = RunProcess({kHijackctl, "--connect", "unix:" + path, "health"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("status:   serving"), std::string::npos) << h.out;
  // hijackd does not own an activated socket: it leaves the path to its manager at exit.
  EXPECT_EQ(serve.Wait(/*terminate=*/true), 0) << serve.Err();
  EXPECT_TRUE(fs::exists(fs::symlink_status(path))) << "the activated socket was unlinked";
}

// A socket unit whose mode lets more users in than --socket-mode is refused, not narrowed.
TEST(SocketActivationTest, RefusesASocketWiderThanSocketMode) {
  TempDir dir;
  const std::string path = dir.path() + "/hijack.sock";
  ActivatedServe serve(dir.path(), path, 0666, {});
  EXPECT_EQ(serve.Wait(/*terminate=*/false), 2);
  EXPECT_NE(serve.Err().find(path + ": the activated socket has mode 0666, wider than "
                                    "--socket-mode 0600"),
            std::string::npos)
      << serve.Err();
}

// --listen and the passed socket must agree: a unit that opens another path is a mistake.
TEST(SocketActivationTest, RefusesASocketOtherThanListen) {
  TempDir dir;
  const std::string path = dir.path() + "/hijack.sock";
  ActivatedServe serve(dir.path(), path, 0600, {}, dir.path() + "/other.sock");
  EXPECT_EQ(serve.Wait(/*terminate=*/false), 2);
  EXPECT_NE(serve.Err().find("socket activation passed " + path), std::string::npos)
      << serve.Err();
}

// The peer rules of a socket hijackd binds hold on an activated one: another uid that may
// connect (mode 0666, --socket-mode 0666) gets Health, and nothing that needs a role.
TEST(SocketActivationTest, PeerRulesApplyToTheActivatedSocket) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to connect as another uid (setpriv --reuid=65534)";
  }
  TempDir dir;
  chmod(dir.path().c_str(), 0755);
  const std::string path = dir.path() + "/hijack.sock";
  ActivatedServe serve(dir.path(), path, 0666, {"--socket-mode", "0666"});
  ASSERT_TRUE(serve.Listening()) << serve.Err();
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534",
                                              "--regid=65534", "--clear-groups", kHijackctl,
                                              "--connect", "unix:" + path};
  auto with = [&](std::vector<std::string> words) {
    std::vector<std::string> argv = as_nobody;
    argv.insert(argv.end(), words.begin(), words.end());
    return argv;
  };
  ProcessResult h = RunProcess(with({"health"}));
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("caller:   uid 65534"), std::string::npos) << h.out;
  ProcessResult g = RunProcess(with({"launch", "--", "/bin/true"}));
  EXPECT_NE(g.exit_code, 0) << g.out;
  EXPECT_NE(g.err.find("PERMISSION_DENIED"), std::string::npos) << g.err;
  EXPECT_EQ(serve.Wait(/*terminate=*/true), 0) << serve.Err();
}

// The same through systemd's own tool, where it is installed.
TEST(SocketActivationTest, ServesUnderSystemdSocketActivate) {
  const std::string tool = "/usr/bin/systemd-socket-activate";
  if (!Executable(tool)) {
    GTEST_SKIP() << tool << " (package systemd) is not installed";
  }
  TempDir dir;
  const std::string path = dir.path() + "/hijack.sock";
  // The tool binds under the caller's umask (0022: mode 0755), so --socket-mode allows that
  // here; the unit sets SocketMode=0600 instead.
  BackgroundProcess serve({tool, "--listen=" + path, kHijackd, "serve", "--listen",
                           "unix:" + path, "--socket-mode", "0777"},
                          dir.path());
  ASSERT_TRUE(Eventually([&] { return fs::exists(fs::symlink_status(path)); })) << serve.Stderr();
  // The tool execs hijackd on the first connection; the client waits in the backlog meanwhile.
  ProcessResult h = RunProcess({kHijackctl, "--connect", "unix:" + path, "health"});
  EXPECT_EQ(h.exit_code, 0) << h.err << serve.Stderr();
  EXPECT_NE(h.out.find("status:   serving"), std::string::npos) << h.out;
  ProcessResult stopped = serve.Stop(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

// The units as systemd reads them, offline.
TEST(SystemdUnitsTest, VerifyCleanly) {
  const std::string tool = "/usr/bin/systemd-analyze";
  if (!Executable(tool)) {
    GTEST_SKIP() << tool << " (package systemd) is not installed";
  }
  TempDir dir;
  const std::string prefix = dir.path() + "/p";
  ASSERT_NO_FATAL_FAILURE(Install(prefix));
  const std::string units = prefix + "/lib/systemd/system/";
  const std::string unit = ReadFile(units + "hijackd.service");
  EXPECT_NE(unit.find("\nExecStart=" + prefix + "/bin/hijackd serve"), std::string::npos) << unit;
  // --man=no: the manual page is looked up with man(1) on this host, not in the prefix.
  ProcessResult r = RunProcess({tool, "verify", "--man=no", units + "hijackd.socket",
                                units + "hijackd.service"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("hijackd."), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hijack::testing
