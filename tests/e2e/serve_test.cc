// `hijackd serve` as its clients meet it: a real daemon on a real unix socket, real hijackctl
// processes (some as another uid, through setpriv), real guests.
//
//   - relative file names in a client's policy land in the client's directory, and a request
//     without one is refused naming the JSON path; a caller's files are opened with its rights;
//   - a guest's standard output and error come back through `hijackctl logs`, and --follow ends
//     when the guest does;
//   - an exit is told as a shell tells it ("killed by SIGTERM");
//   - the JSON: no return_value where there is none, arguments as JSON values, no intercept
//     names in `guests --json`, and `hijackctl stats` prints `hijackd run`'s table.
//
// No sleeps: every wait is on the condition itself, up to a deadline.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "tests/e2e/e2e_paths.h"
#include "tests/support/backend_params.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr auto kDeadline = 60s;
constexpr int kInvalidArgument = 3;
constexpr uid_t kNobody = 65534;
constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr const char* kLaunchGid = "4712";

// The first line of `text` that contains `word`, or "".
std::string LineWith(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(word) != std::string::npos) {
      return line;
    }
  }
  return "";
}

class ServeTest : public ::testing::Test {
 protected:
  // The daemon runs in a directory of its own, apart from the client's.
  void Start(std::vector<std::string> extra = {}) {
    daemon_dir_ = dir_.path() + "/daemon";
    client_dir_ = dir_.path() + "/client";
    mkdir(daemon_dir_.c_str(), 0755);
    mkdir(client_dir_.c_str(), 0777);
    chmod(client_dir_.c_str(), 0777);
    address_ = "unix:" + dir_.path() + "/h.sock";
    std::vector<std::string> argv = {"/usr/bin/env", "--chdir=" + daemon_dir_, kHijackd,
                                     "serve",        "--listen",               address_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    StartServe(daemon_, argv, address_, dir_.path());
  }

  void TearDown() override { StopServe(daemon_); }

  // hijackctl run from `cwd` (the client's directory by default).
  std::vector<std::string> CtlArgv(std::vector<std::string> args, std::string cwd = "") {
    std::vector<std::string> argv = {"/usr/bin/env", "--chdir=" + (cwd.empty() ? client_dir_ : cwd),
                                     kHijackctl, "--connect", address_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  ProcessResult Ctl(std::vector<std::string> args, std::string cwd = "") {
    return RunProcess(CtlArgv(std::move(args), std::move(cwd)),
                      ProcessOptions{.env_add = {}, .stdin_data = "", .deadline = kDeadline});
  }

  nlohmann::json Show(const std::string& id) {
    auto r = Ctl({"--json", "show", id});
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  bool Exited(const std::string& id) {
    auto g = Show(id);
    return g.is_object() && g.value("state", "") == "EXITED";
  }

  TempDir dir_;
  std::string daemon_dir_, client_dir_, address_;
  std::unique_ptr<BackgroundProcess> daemon_;
};

// ---- Relative paths in a client's policy. ----

constexpr const char* kRelativeTrace = R"({"version": 1, "modules": [
    {"module": "trace", "syscalls": ["openat"], "output": "trace.jsonl"}, {"module": "stats"}]})";

TEST_F(ServeTest, ARelativeTraceOutputLandsInTheClientsDirectory) {
  Start();
  const std::string policy = dir_.Write("relative.json", kRelativeTrace);
  auto launch = Ctl({"launch", "--policy", policy, "--", "/bin/cat", "/etc/hostname"});
  ASSERT_EQ(launch.exit_code, 0) << launch.err;
  ASSERT_TRUE(Eventually([&] { return Exited("1"); }));
  EXPECT_EQ(access((client_dir_ + "/trace.jsonl").c_str(), F_OK), 0);
  EXPECT_NE(access((daemon_dir_ + "/trace.jsonl").c_str(), F_OK), 0);
  EXPECT_THAT(ReadFile(client_dir_ + "/trace.jsonl"), HasSubstr("\"syscall\":\"openat\""));
  // The policy in force names the file the daemon opened.
  auto get = Ctl({"policy", "get", "1"});
  EXPECT_THAT(get.out, HasSubstr("\"" + client_dir_ + "/trace.jsonl\""));
}

TEST_F(ServeTest, APolicySetResolvesAgainstTheDirectoryOfThatClient) {
  Start();
  auto launch = Ctl({"launch", "--intercept", "openat", "--", "/bin/sleep", "600"});
  ASSERT_EQ(launch.exit_code, 0) << launch.err;
  const std::string other = dir_.path() + "/elsewhere";
  mkdir(other.c_str(), 0755);
  const std::string policy = dir_.Write("relative.json", kRelativeTrace);
  auto set = Ctl({"policy", "set", "1", policy}, other);
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(access((other + "/trace.jsonl").c_str(), F_OK), 0);
  EXPECT_NE(access((daemon_dir_ + "/trace.jsonl").c_str(), F_OK), 0);
  EXPECT_EQ(Ctl({"kill", "1"}).exit_code, 0);
}

// A client whose directory cannot be named (it was removed under it) sends none: the daemon
// refuses the relative name instead of guessing, and says where it is and what to do.
TEST_F(ServeTest, ARelativePathWithoutAClientDirectoryIsRefusedNamingItsJsonPath) {
  Start();
  const std::string policy = dir_.Write("relative.json", kRelativeTrace);
  const std::string gone = dir_.path() + "/gone";
  const std::string script = "mkdir " + ShellQuote(gone) + " && cd " + ShellQuote(gone) +
                             " && rmdir " + ShellQuote(gone) + " && exec " + ShellQuote(kHijackctl) +
                             " --connect " + ShellQuote(address_) + " launch --policy " +
                             ShellQuote(policy) + " -- /bin/true";
  auto r = RunProcess({"/bin/sh", "-c", script});
  EXPECT_EQ(r.exit_code, kInvalidArgument) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/modules/0/output: \"trace.jsonl\" is a relative path"));
  EXPECT_THAT(r.err, HasSubstr("client_cwd"));
  EXPECT_NE(access((daemon_dir_ + "/trace.jsonl").c_str(), F_OK), 0);
  // Nothing was launched.
  auto guests = Ctl({"--json", "guests"});
  EXPECT_THAT(guests.out, Not(HasSubstr("guest_id")));
}

// A root daemon opens a caller's files with the caller's rights: a launch-group member cannot
// have it create, truncate or append to a file only root may write, absolute or relative, by a
// launch, a policy set or a dry run.
TEST_F(ServeTest, ACallersFilesAreOpenedWithTheCallersRights) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "a root daemon and a caller of another uid (setpriv) need root";
  }
  Start({"--socket-mode", "0666", "--launch-group", kLaunchGid});
  StagedFiles staged({{kHijackctl, "bin/hijackctl"}});
  const std::string root_only = dir_.path() + "/root-only";
  mkdir(root_only.c_str(), 0755);  // others may enter and read, not write
  const std::string precious = dir_.Write("root-only/precious", "root's data\n", 0644);
  auto as_nobody = [&](std::vector<std::string> args, const std::string& cwd) {
    std::vector<std::string> argv = {kSetpriv, "--reuid=65534", "--regid=65534",
                                     std::string("--groups=") + kLaunchGid, "/usr/bin/env",
                                     "--chdir=" + cwd, staged.path("bin/hijackctl"), "--connect",
                                     address_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, ProcessOptions{.env_add = {}, .stdin_data = "", .deadline = kDeadline});
  };
  for (const std::string& output : {precious, std::string("precious"), root_only + "/new"}) {
    SCOPED_TRACE(output);
    const std::string policy = dir_.Write(
        "p.json", R"({"version": 1, "modules": [{"module": "trace", "output": ")" + output +
                      R"("}, {"module": "exec_guard", "log": ")" + output + R"("}]})");
    auto launch = as_nobody({"launch", "--policy", policy, "--", "/bin/true"}, root_only);
    EXPECT_NE(launch.exit_code, 0) << launch.out;
    EXPECT_THAT(launch.err, HasSubstr("Permission denied"));
    auto check = as_nobody({"policy", "check", policy}, root_only);
    EXPECT_NE(check.exit_code, 0) << check.out;
    EXPECT_EQ(ReadFile(precious), "root's data\n");
    EXPECT_NE(access((root_only + "/new").c_str(), F_OK), 0);
  }
  // What the caller may write, it gets, and the file is the caller's.
  const std::string mine = client_dir_ + "/mine.jsonl";
  const std::string policy = dir_.Write(
      "ok.json", R"({"version": 1, "modules": [{"module": "trace", "output": "mine.jsonl"}]})");
  auto launch = as_nobody({"launch", "--policy", policy, "--", "/bin/true"}, client_dir_);
  ASSERT_EQ(launch.exit_code, 0) << launch.err;
  struct stat st {};
  ASSERT_EQ(stat(mine.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  // And the daemon still opens its own files as root afterwards (the thread got its rights
  // back): the owner's trace goes into the root-only directory.
  const std::string owners = dir_.Write(
      "owner.json", R"({"version": 1, "modules": [{"module": "trace", "output": "owner.jsonl"}]})");
  auto own = Ctl({"launch", "--policy", owners, "--", "/bin/true"}, root_only);
  ASSERT_EQ(own.exit_code, 0) << own.err;
  ASSERT_EQ(stat((root_only + "/owner.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  // A plugin runs in a policy host with the daemon's rights: not for this caller.
  const std::string plugin = dir_.Write(
      "plugin.json", R"({"version": 1, "modules": [{"module": "plugin", "path": "/x.so"}]})");
  auto loaded = as_nobody({"launch", "--policy", plugin, "--", "/bin/true"}, client_dir_);
  EXPECT_EQ(loaded.exit_code, 7) << loaded.err;  // PERMISSION_DENIED
  EXPECT_THAT(loaded.err, HasSubstr("/modules/0: a plugin runs in a policy host"));
}

// ---- Guest output. ----

class OutputTest : public ServeTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(OutputTest, LogsPrintsEachStreamAndFollowEndsWhenTheGuestExits) {
  Start();
  const std::string fifo = dir_.path() + "/go";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0666), 0);
  auto launch = Ctl({"launch", "--backend", GetParam(), "--", "/bin/sh", "-c",
                     "echo out-before; echo err-before >&2; read x < " + fifo +
                         "; echo out-after; echo err-after >&2; exit 3"});
  ASSERT_EQ(launch.exit_code, 0) << launch.err;
  // The daemon's log does not get it.
  EXPECT_TRUE(Eventually([&] {
    return Ctl({"logs", "1"}).out.find("out-before") != std::string::npos;
  }));
  auto out_only = Ctl({"logs", "1", "--stdout"});
  EXPECT_EQ(out_only.out, "out-before\n");
  EXPECT_EQ(out_only.err, "");
  auto err_only = Ctl({"logs", "1", "--stderr"});
  EXPECT_EQ(err_only.out, "");
  EXPECT_EQ(err_only.err, "err-before\n");

  BackgroundProcess follower(CtlArgv({"logs", "1", "--follow"}), dir_.path());
  ASSERT_TRUE(follower.WaitForOutput("out-before", kDeadline));
  {
    const int w = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // the guest waits to read it
    ASSERT_GE(w, 0);
    ASSERT_EQ(write(w, "go\n", 3), 3);
    close(w);
  }
  EXPECT_TRUE(follower.WaitForOutput("out-after", kDeadline));
  // Returns when the follower ends by itself (it never prints this).
  EXPECT_FALSE(follower.WaitForOutput("never printed", kDeadline));
  auto followed = follower.Stop(SIGTERM);
  EXPECT_FALSE(followed.timed_out);
  EXPECT_TRUE(WIFEXITED(followed.wait_status)) << followed.wait_status;
  EXPECT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_EQ(followed.out, "out-before\nout-after\n");
  EXPECT_EQ(followed.err, "err-before\nerr-after\n");
  // The daemon's own log names the command (audit) but carries none of its output.
  EXPECT_THAT(daemon_->Stdout() + daemon_->Stderr(), Not(HasSubstr("\nout-before\n")));
  EXPECT_THAT(daemon_->Stdout() + daemon_->Stderr(), Not(HasSubstr("\nerr-after\n")));
  // Kept after the exit.
  EXPECT_TRUE(Exited("1"));
  EXPECT_EQ(Ctl({"logs", "1", "--stdout"}).out, "out-before\nout-after\n");
}

// The guest never waits for a reader: output beyond the ring is dropped from the ring (and
// said so), not held in the pipe.
TEST_P(OutputTest, OutputBeyondTheRingIsDroppedAndCounted) {
  Start();
  // 200 KiB of numbered lines, more than the 64 KiB kept.
  auto launch = Ctl({"launch", "--backend", GetParam(), "--", "/usr/bin/seq", "1", "30000"});
  ASSERT_EQ(launch.exit_code, 0) << launch.err;
  ASSERT_TRUE(Eventually([&] { return Exited("1"); }));
  EXPECT_THAT(Show("1").value("exit_description", ""), "exited with status 0");
  auto logs = Ctl({"logs", "1"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_THAT(logs.out, HasSubstr("\n30000\n"));
  EXPECT_THAT(logs.out, Not(HasSubstr("\n100\n")));
  EXPECT_LE(logs.out.size(), 64u * 1024u);
  EXPECT_THAT(logs.err, HasSubstr("bytes of output dropped here"));
}

INSTANTIATE_TEST_SUITE_P(Backends, OutputTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

// ---- Exits as a shell tells them. ----

class ExitTest : public ServeTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ExitTest, AKilledGuestShowsTheSignalsName) {
  Start();
  ASSERT_EQ(Ctl({"launch", "--backend", GetParam(), "--", "/bin/sleep", "600"}).exit_code, 0);
  EXPECT_THAT(Ctl({"show", "1"}).out, HasSubstr("running for:"));
  ASSERT_EQ(Ctl({"kill", "1"}).exit_code, 0);
  ASSERT_TRUE(Eventually([&] { return Exited("1"); }));
  auto show = Ctl({"show", "1"});
  EXPECT_THAT(show.out, HasSubstr("state:          killed by SIGTERM"));
  EXPECT_THAT(show.out, HasSubstr("ran for:"));
  EXPECT_THAT(show.out, Not(HasSubstr("running for")));
  EXPECT_THAT(show.out, Not(HasSubstr("exited(143)")));
  auto guests = Ctl({"guests"});
  EXPECT_THAT(guests.out, HasSubstr("killed by SIGTERM"));
  auto json = Show("1");
  EXPECT_EQ(json.value("term_signal", ""), "SIGTERM");
  EXPECT_EQ(json.value("exit_code", 0), 143);  // the shell-style status stays
  EXPECT_FALSE(json.value("core_dumped", true));
}

INSTANTIATE_TEST_SUITE_P(Backends, ExitTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

TEST(RunExit, HijackdRunSaysWhichSignalEndedItsGuest) {
  auto r = RunProcess({kHijackd, "run", "--", "/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_TRUE(WIFSIGNALED(r.wait_status));
  EXPECT_THAT(r.err, HasSubstr("hijackd: guest 1 (/bin/sh) killed by SIGTERM"));
}

// ---- The API's JSON. ----

TEST_F(ServeTest, EventsHaveNoReturnValueWhereThereIsNoneAndArgumentsAsJsonValues) {
  Start();
  const std::string trace_file = dir_.path() + "/t.jsonl";
  const std::string policy = dir_.Write(
      "p.json", R"({"version": 1, "modules": [
        {"module": "deny", "syscalls": ["mkdir"], "errno": "EPERM"},
        {"module": "trace", "syscalls": ["openat", "mkdir"], "output": ")" + trace_file + R"("}]})");
  // Calls without end, so the stream has events whenever it starts.
  ASSERT_EQ(Ctl({"launch", "--no-agent", "--policy", policy, "--", "/bin/sh", "-c",
                 "while :; do read x < /dev/null; mkdir /nonexistent/x 2>/dev/null; done"})
                .exit_code,
            0);
  // Past the loader's and libc's opens, into the loop.
  auto events = Ctl({"--json", "events", "1", "--syscall", "openat,mkdir", "--count", "80"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  int seen_open = 0, seen_fail = 0, seen_dev_null = 0;
  std::istringstream lines(events.out);
  for (std::string line; std::getline(lines, line);) {
    auto msg = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(msg.is_object()) << line;
    const auto& e = msg["event"];
    EXPECT_FALSE(e.contains("return_value")) << line;
    EXPECT_THAT(line, Not(HasSubstr("\\\""))) << "JSON inside a string";
    EXPECT_TRUE(!e.contains("args") || e["args"].empty()) << line;
    if (e.value("syscall", "") == "openat") {
      ++seen_open;
      EXPECT_FALSE(e.contains("errno_value")) << line;
      ASSERT_TRUE(e.contains("arg_values")) << line;
      EXPECT_THAT(e["arg_values"][1].type_name(), std::string("string")) << line;
      seen_dev_null += e["arg_values"][1] == "/dev/null" ? 1 : 0;
    } else {
      ++seen_fail;
      EXPECT_EQ(e.value("decision", ""), "DECISION_KIND_FAIL") << line;
      EXPECT_EQ(e.value("errno_name", ""), "EPERM") << line;
    }
  }
  EXPECT_GT(seen_open, 0);
  EXPECT_GT(seen_fail, 0);
  EXPECT_GT(seen_dev_null, 0);
  EXPECT_EQ(Ctl({"kill", "1", "--signal", "KILL"}).exit_code, 0);
}

TEST_F(ServeTest, GuestsJsonCountsTheInterceptSetAndListsItOnlyWhenAsked) {
  Start();
  ASSERT_EQ(Ctl({"launch", "--", "/bin/sleep", "600"}).exit_code, 0);  // stats: every syscall
  auto plain = nlohmann::json::parse(Ctl({"--json", "guests"}).out, nullptr, false);
  ASSERT_TRUE(plain.is_object());
  const auto& g = plain["guests"][0];
  EXPECT_TRUE(!g.contains("intercept") || g["intercept"].empty()) << g.dump();
  EXPECT_GT(g.value("intercept_count", 0), 300);
  auto full = nlohmann::json::parse(Ctl({"--json", "guests", "--intercept"}).out, nullptr, false);
  ASSERT_TRUE(full.is_object());
  EXPECT_EQ(full["guests"][0]["intercept"].size(), g.value("intercept_count", 0u));
  EXPECT_EQ(Show("1")["intercept"].size(), g.value("intercept_count", 0u));
  EXPECT_EQ(Ctl({"kill", "1"}).exit_code, 0);
}

// `hijackctl stats` and `hijackd run` print one table: same header, and, with latency off, no
// time columns in either (no zeros standing for "not measured").
TEST_F(ServeTest, StatsPrintsTheTableOfHijackdRun) {
  Start();
  for (bool latency : {true, false}) {
    SCOPED_TRACE(latency);
    const std::string policy = dir_.Write(
        "stats.json", std::string(R"({"version": 1, "modules": [{"module": "stats", "latency": )") +
                          (latency ? "true" : "false") + "}]}");
    auto run = RunProcess({kHijackd, "run", "--policy", policy, "--", "/bin/true"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const std::string run_header = LineWith(run.err, "syscall ");
    ASSERT_FALSE(run_header.empty()) << run.err;

    auto launch = Ctl({"--json", "launch", "--policy", policy, "--", "/bin/sleep", "600"});
    ASSERT_EQ(launch.exit_code, 0) << launch.err;
    const std::string id = nlohmann::json::parse(launch.out).value("guest_id", "");
    std::string stats;
    ASSERT_TRUE(Eventually([&] {
      stats = Ctl({"stats", id}).out;
      return !LineWith(stats, "total ").empty();
    }));
    EXPECT_EQ(LineWith(stats, "syscall "), run_header) << stats;
    EXPECT_THAT(stats, HasSubstr(LineWith(run.err, "-----")));
    if (!latency) {
      EXPECT_THAT(stats, Not(HasSubstr("p50-us")));
      EXPECT_THAT(stats, Not(HasSubstr("P50")));
      EXPECT_THAT(stats, HasSubstr("no times measured"));
    }
    EXPECT_EQ(Ctl({"kill", id}).exit_code, 0);
  }
}

}  // namespace
}  // namespace hijack::testing
