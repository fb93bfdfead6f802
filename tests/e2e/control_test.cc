// The control API end to end: a real hijackd (serve, and run --listen) on a real unix socket, a
// real lighttpd on 127.0.0.1 launched through it, and real hijackctl processes.
//
// No sleeps wait for a condition: every wait polls the condition itself up to a deadline.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>

#include "tests/e2e/e2e_paths.h"
#include "tests/support/backend_params.h"
#include "tests/support/lighttpd_site.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using namespace std::chrono_literals;

std::string DenyPolicy(const std::string& syscalls_json) {
  return R"({"version": 1, "modules": [{"module": "deny", "syscalls": )" + syscalls_json +
         R"(, "errno": "EACCES"}]})";
}

// The launch policy: enforces something unrelated to serving pages, so the intercept set is
// small and named explicitly with --intercept.
const char* kLaunchPolicy = R"({"version": 1, "modules": [
    {"module": "deny", "syscalls": ["ptrace"], "errno": "EPERM"}]})";
// lighttpd opens a file once and then only stats it, so denying the page means denying both.
const char* kIntercept = "openat,newfstatat,accept4,read,writev,close";

// The calls a `show --json` answer says the agent runs in the guest; none if it names none.
std::vector<std::string> AgentSyscalls(const nlohmann::json& show) {
  return show.value("agent_syscalls", std::vector<std::string>{});
}

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.path() + "/hijack.sock";
    address_ = "unix:" + socket_;
    StartServe(daemon_, {kHijackd, "serve", "--listen", address_}, address_, dir_.path());
  }

  void TearDown() override {
    if (auto stopped = StopServe(daemon_)) {
      EXPECT_EQ(stopped->exit_code, 0) << stopped->err;
    }
  }

  ProcessResult Ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {kHijackctl, "--connect", address_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, ProcessOptions{.env_add = {}, .stdin_data = "", .deadline = kDeadline});
  }

  // Writes a lighttpd config serving dir_/www on a free port; returns the config path.
  std::string LighttpdConfig() {
    port_ = PickFreePort();
    return WriteLighttpdSite(dir_, port_, "hello from a policed lighttpd\n",
                             // Its stat cache would answer from memory for up to a second.
                             "server.stat-cache-engine = \"disable\"\n"
                             "mimetype.assign = (\".html\" => \"text/html\")\n");
  }

  // Launches lighttpd through the daemon and waits until it serves; returns the guest id. By
  // default under kLaunchPolicy with kIntercept reserved for later policies; `launch_args`
  // replaces those options.
  std::string LaunchLighttpd(std::optional<std::vector<std::string>> launch_args = std::nullopt) {
    std::string conf = LighttpdConfig();
    std::vector<std::string> args = {"--json", "launch"};
    if (launch_args) {
      args.insert(args.end(), launch_args->begin(), launch_args->end());
    } else {
      std::string policy = dir_.Write("launch.json", kLaunchPolicy);
      args.insert(args.end(), {"--policy", policy, "--intercept", kIntercept});
    }
    args.insert(args.end(), {"--", "/usr/sbin/lighttpd", "-D", "-f", conf});
    auto r = Ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto reply = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(reply.is_object()) << r.out;
    std::string id = reply.is_object() ? reply.value("guest_id", "") : "";
    EXPECT_EQ(id, "1") << r.out;
    EXPECT_THAT(HttpGetWhenUp(port_, "/index.html", kDeadline), HasSubstr("200 OK"));
    return id;
  }

  std::string Get() { return HttpGet(port_, "/index.html"); }

  // `hijackctl --json show ID`, parsed: a discarded value if the output is not JSON.
  nlohmann::json Show(const std::string& id) {
    return nlohmann::json::parse(Ctl({"--json", "show", id}).out, nullptr, false);
  }

  bool GuestRunning(const std::string& id) {
    auto r = Ctl({"--json", "show", id});
    return r.exit_code == 0 && r.out.find("\"state\":\"RUNNING\"") != std::string::npos;
  }

  TempDir dir_;
  std::string socket_;
  std::string address_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> daemon_;
};

TEST_F(ControlTest, PolicySetDeniesTheNextRequestAndRevertingRestoresIt) {
  std::string id = LaunchLighttpd();
  std::string deny = dir_.Write("deny.json", DenyPolicy(R"(["openat", "newfstatat"])"));
  auto set = Ctl({"policy", "set", id, deny, "--expect-version", "1"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_THAT(set.out, HasSubstr("policy version 2"));

  std::string denied = Get();
  EXPECT_THAT(denied, HasSubstr("403 Forbidden"));
  EXPECT_TRUE(GuestRunning(id));

  std::string original = dir_.Write("original.json", kLaunchPolicy);
  auto revert = Ctl({"policy", "set", id, original, "--expect-version", "2"});
  ASSERT_EQ(revert.exit_code, 0) << revert.err;
  std::string restored = Get();
  EXPECT_THAT(restored, HasSubstr("200 OK"));
  EXPECT_THAT(restored, HasSubstr("hello from a policed lighttpd"));

  auto get = Ctl({"--json", "policy", "get", id});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("\"version\":\"3\""));
  EXPECT_THAT(get.out, HasSubstr("ptrace"));
}

TEST_F(ControlTest, StaleExpectedVersionIsAbortedAndChangesNothing) {
  std::string id = LaunchLighttpd();
  std::string deny = dir_.Write("deny.json", DenyPolicy(R"(["openat", "newfstatat"])"));
  std::string original = dir_.Write("original.json", kLaunchPolicy);
  ASSERT_EQ(Ctl({"policy", "set", id, original, "--expect-version", "1"}).exit_code, 0);
  auto stale = Ctl({"policy", "set", id, deny, "--expect-version", "1"});
  EXPECT_EQ(stale.exit_code, kAborted) << stale.err;
  EXPECT_THAT(stale.err, HasSubstr("ABORTED"));
  EXPECT_THAT(stale.err, HasSubstr("policy version is 2, not the expected 1"));
  EXPECT_THAT(Get(), HasSubstr("200 OK"));
}

TEST_F(ControlTest, InvalidPolicyIsInvalidArgumentWithItsPathAndTheOldPolicyStays) {
  std::string id = LaunchLighttpd();
  std::string bad = dir_.Write(
      "bad.json",
      R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["openat"], "errno": "EACCESS"}]})");
  auto r = Ctl({"policy", "set", id, bad});
  EXPECT_EQ(r.exit_code, kInvalidArgument) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/modules/0/errno"));
  auto check = Ctl({"policy", "check", bad});
  EXPECT_EQ(check.exit_code, kInvalidArgument) << check.err;

  auto get = Ctl({"--json", "policy", "get", id});
  EXPECT_THAT(get.out, HasSubstr("\"version\":\"1\""));
  EXPECT_THAT(Get(), HasSubstr("200 OK"));
  EXPECT_TRUE(GuestRunning(id));
}

TEST_F(ControlTest, PolicyOutsideTheInterceptSetIsFailedPreconditionListingTheCalls) {
  std::string id = LaunchLighttpd();
  std::string wide = dir_.Write("wide.json", DenyPolicy(R"(["mount", "openat"])"));
  auto check = Ctl({"policy", "check", wide, "--guest", id});
  EXPECT_EQ(check.exit_code, kFailedPrecondition) << check.err;
  auto r = Ctl({"policy", "set", id, wide});
  EXPECT_EQ(r.exit_code, kFailedPrecondition) << r.err;
  EXPECT_THAT(r.err, HasSubstr("mount"));
  EXPECT_THAT(Get(), HasSubstr("200 OK"));
}

// Under the default policy (stats) the agent counts lighttpd's hot calls in the guest. Those
// calls are then beyond any later policy: SetPolicy refuses to police them, and says how to
// launch so that it could, and the page stays served.
TEST_F(ControlTest, TheAgentIsOnByDefaultAndItsCallsCannotBePolicedLater) {
  std::string id = LaunchLighttpd(std::vector<std::string>{});
  auto show = Show(id);
  ASSERT_TRUE(show.is_object());
  std::vector<std::string> agent = AgentSyscalls(show);
  EXPECT_THAT(agent, IsSupersetOf({"accept4", "openat", "writev", "read", "close"}))
      << show.dump();
  std::string deny = dir_.Write("deny.json", DenyPolicy(R"(["openat", "newfstatat"])"));
  auto r = Ctl({"policy", "set", id, deny});
  EXPECT_EQ(r.exit_code, kFailedPrecondition) << r.err;
  EXPECT_THAT(r.err, HasSubstr("openat"));
  EXPECT_THAT(r.err, HasSubstr("--intercept"));
  EXPECT_THAT(r.err, HasSubstr("--no-agent"));
  EXPECT_THAT(Get(), HasSubstr("200 OK"));
  EXPECT_THAT(Ctl({"show", id}).out, HasSubstr("syscalls observed in the guest"));
}

// --no-agent keeps every call on the supervisor's path, so a later policy may police any of them.
TEST_F(ControlTest, NoAgentLaunchCanBePolicedLater) {
  std::string id = LaunchLighttpd(std::vector<std::string>{"--no-agent"});
  auto show = Show(id);
  ASSERT_TRUE(show.is_object());
  EXPECT_TRUE(AgentSyscalls(show).empty()) << show.dump();
  EXPECT_THAT(Ctl({"show", id}).out, HasSubstr("agent:          off"));
  std::string deny = dir_.Write("deny.json", DenyPolicy(R"(["openat", "newfstatat"])"));
  auto r = Ctl({"policy", "set", id, deny});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Get(), HasSubstr("403 Forbidden"));
}

// A WatchEvents client sees each call, including those the agent runs in the guest: while a
// stream is open the agent appends them to its rings as events, not only as counts.
TEST_F(ControlTest, WatchEventsSeesTheCallsTheAgentRuns) {
  std::string id = LaunchLighttpd(std::vector<std::string>{});
  auto show = Show(id);
  ASSERT_TRUE(show.is_object());
  std::vector<std::string> agent = AgentSyscalls(show);
  ASSERT_THAT(agent, Contains("writev")) << show.dump();
  BackgroundProcess watcher({kHijackctl, "--connect", address_, "--json", "events", id,
                             "--syscall", "writev", "--follow"},
                            dir_.path());
  EXPECT_TRUE(Eventually([&] {
    EXPECT_THAT(Get(), HasSubstr("200 OK"));
    return watcher.Stdout().find("\"syscall\":\"writev\"") != std::string::npos;
  })) << watcher.Stdout() << watcher.Stderr();
  auto stopped = watcher.Stop(SIGTERM);
  EXPECT_FALSE(stopped.timed_out);
}

TEST_F(ControlTest, UnknownGuestIsNotFound) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"show", "42"}, {"policy", "get", "42"}, {"kill", "42"}, {"stats", "42"}}) {
    auto r = Ctl(args);
    EXPECT_EQ(r.exit_code, kNotFound) << args[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("no guest 42"));
  }
}

TEST_F(ControlTest, GuestsStatsModulesAndKill) {
  std::string id = LaunchLighttpd();
  auto guests = Ctl({"guests"});
  EXPECT_EQ(guests.exit_code, 0) << guests.err;
  EXPECT_THAT(guests.out, HasSubstr("running"));
  EXPECT_THAT(guests.out, HasSubstr("/usr/sbin/lighttpd -D -f"));
  auto modules = Ctl({"modules"});
  EXPECT_EQ(modules.exit_code, 0) << modules.err;
  EXPECT_THAT(modules.out, HasSubstr("deny"));
  // The calls each module intercepts: stats defaults to every call, deny's come from settings.
  auto listed = nlohmann::json::parse(Ctl({"--json", "modules"}).out, nullptr, false);
  ASSERT_TRUE(listed.is_object());
  for (const auto& m : listed["modules"]) {
    if (m["name"] == "stats") {
      EXPECT_GT(m["syscalls"].size(), 300u);
      EXPECT_NE(std::find(m["syscalls"].begin(), m["syscalls"].end(), "openat"),
                m["syscalls"].end());
    }
    if (m["name"] == "deny") {
      EXPECT_EQ(m.value("syscalls_from_settings", false), true) << m.dump();
    }
  }
  std::string stats_policy = dir_.Write(
      "stats.json", R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["accept4"]}]})");
  ASSERT_EQ(Ctl({"policy", "set", id, stats_policy}).exit_code, 0);
  EXPECT_THAT(Get(), HasSubstr("200 OK"));
  EXPECT_TRUE(Eventually([&] {
    return Ctl({"stats", id}).out.find("accept4") != std::string::npos;
  }));

  auto kill = Ctl({"kill", id, "--signal", "TERM"});
  EXPECT_EQ(kill.exit_code, 0) << kill.err;
  EXPECT_TRUE(Eventually([&] {
    return Ctl({"--json", "show", id}).out.find("\"state\":\"EXITED\"") != std::string::npos;
  }));
  auto again = Ctl({"kill", id});
  EXPECT_EQ(again.exit_code, kFailedPrecondition) << again.err;
}

TEST_F(ControlTest, WatchEventsSeesTheRequestsSyscalls) {
  std::string id = LaunchLighttpd();
  BackgroundProcess watcher({kHijackctl, "--connect", address_, "--json", "events", id,
                             "--syscall", "openat,newfstatat", "--follow"},
                            dir_.path());
  // The stream starts some time after the process: request until an event shows up.
  EXPECT_TRUE(Eventually([&] {
    EXPECT_THAT(Get(), HasSubstr("200 OK"));
    return watcher.Stdout().find("\"syscall\":\"newfstatat\"") != std::string::npos;
  })) << watcher.Stdout() << watcher.Stderr();
  std::string out = watcher.Stdout();
  EXPECT_THAT(out, Not(HasSubstr("\"syscall\":\"accept4\"")));  // filtered out
  EXPECT_THAT(out, HasSubstr("\"guest_id\":\"1\""));
  auto stopped = watcher.Stop(SIGTERM);
  EXPECT_FALSE(stopped.timed_out);
}

// Makes `count` requests one after the other; returns how many were answered 200 and how long
// they took together.
std::pair<int, std::chrono::nanoseconds> Requests(int port, int count) {
  int ok = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    if (HttpGet(port, "/index.html").find("200 OK") != std::string::npos) {
      ++ok;
    }
  }
  return {ok, std::chrono::steady_clock::now() - start};
}

TEST_F(ControlTest, SlowReaderLosesCountedEventsAndTheGuestDoesNotSlowDown) {
  std::string id = LaunchLighttpd();
  // Each request makes at least six intercepted calls: 400 requests are thousands of events,
  // far beyond what the reader's queue (16) and transport (a few hundred) can hold.
  constexpr int kRequests = 400;
  const auto [alone, alone_time] = Requests(port_, kRequests);
  ASSERT_EQ(alone, kRequests);

  BackgroundProcess reader({kHijackctl, "--connect", address_, "--json", "events", id,
                            "--queue", "16", "--follow"},
                           dir_.path());
  ASSERT_TRUE(Eventually([&] {
    Get();
    return reader.Stdout().find("\"syscall\"") != std::string::npos;
  })) << reader.Stderr();
  // A stopped reader is the slowest one: its socket and stream windows fill, then its queue.
  ASSERT_EQ(kill(reader.pid(), SIGSTOP), 0);
  // What the reader wrote before it stopped; losses reported after this are the stall's.
  const size_t before_stall = reader.Stdout().size();
  const auto [with_stalled_reader, stalled_time] = Requests(port_, kRequests);
  ASSERT_EQ(kill(reader.pid(), SIGCONT), 0);

  // If the bus waited for the reader, the guest would stop once the queue filled and these
  // requests would time out. The throughput ratio is recorded, not asserted: timings on a
  // shared machine are noise.
  EXPECT_EQ(with_stalled_reader, kRequests);
  RecordProperty("throughput_ratio_stalled_vs_alone",
                 std::to_string(static_cast<double>(alone_time.count()) /
                                static_cast<double>(stalled_time.count())));

  // The first event delivered after the loss says how much was lost. Once the reader shows an
  // event that started after it resumed, it has read everything from the stall, so the sum of
  // dropped_before since the stall is the stall's whole loss. (Events carry CLOCK_MONOTONIC
  // times, the clock of steady_clock here.)
  const int64_t resumed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
  uint64_t total_dropped = 0;
  size_t lines = 0;
  EXPECT_TRUE(Eventually([&] {
    Get();
    std::istringstream in(reader.Stdout().substr(before_stall));
    bool caught_up = false;
    total_dropped = 0;
    lines = 0;
    for (std::string line; std::getline(in, line);) {
      auto msg = nlohmann::json::parse(line, nullptr, false);
      if (!msg.is_object()) {
        continue;  // a line still being written
      }
      ++lines;
      total_dropped += std::stoull(msg.value("dropped_before", "0"));
      caught_up = caught_up || std::stoll(msg["event"].value("start_ns", "0")) > resumed_ns;
    }
    return caught_up;
  })) << reader.Stderr();
  // Each request makes at least six intercepted calls; the transport buffers a few hundred
  // events and the queue 16, so nearly all of the stall's events must be counted as lost.
  EXPECT_GE(total_dropped, static_cast<uint64_t>(with_stalled_reader));
  std::string out = reader.Stdout().substr(before_stall);
  RecordProperty("dropped", std::to_string(total_dropped));
  RecordProperty("requests", kRequests);
  std::printf(
      "%d requests: %.0f ms alone, %.0f ms with a stalled reader; %llu events dropped, %zu lines "
      "read after the stall\n",
      kRequests, static_cast<double>(alone_time.count()) / 1e6,
      static_cast<double>(stalled_time.count()) / 1e6,
      static_cast<unsigned long long>(total_dropped), lines);
  reader.Stop(SIGTERM);
}

TEST_F(ControlTest, HijackConnectIsTheDefaultAddressAndLimitsAreResourceExhausted) {
  auto r = RunProcess({kHijackctl, "guests"},
                      ProcessOptions{.env_add = {"HIJACK_CONNECT=" + address_}, .stdin_data = "",
                                     .deadline = kDeadline});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("COMMAND"));
  auto big = Ctl({"events", "--queue", "1000000"});
  EXPECT_EQ(big.exit_code, 8) << big.err;  // RESOURCE_EXHAUSTED
  auto help = RunProcess({kHijackctl, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Examples:"));
  EXPECT_EQ(RunProcess({kHijackctl, "no-such-command"}).exit_code, 64);
}

TEST_F(ControlTest, AnotherUserCannotConnectToTheDefaultSocket) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "connecting as another user (uid 65534) needs root to switch to it";
  }
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // hijackctl is staged where that user can execute it, wherever the build tree is.
  StagedFiles staged({{kHijackctl, "bin/hijackctl"}});
  auto r = RunProcess({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       staged.path("bin/hijackctl"), "--connect", address_, "guests"});
  EXPECT_EQ(r.exit_code, kUnavailable) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("Permission denied"));
  // The owner still can.
  EXPECT_EQ(Ctl({"guests"}).exit_code, 0);
}

TEST_F(ControlTest, ALiveSocketIsNotStolen) {
  auto second = RunProcess({kHijackd, "serve", "--listen", address_},
                           ProcessOptions{.env_add = {}, .stdin_data = "", .deadline = kDeadline});
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_THAT(second.err, HasSubstr("not stealing"));
  EXPECT_EQ(Ctl({"guests"}).exit_code, 0);
}

TEST_F(ControlTest, SigtermEndsGuestsAndRemovesTheSocket) {
  LaunchLighttpd();
  auto show = Ctl({"--json", "show", "1"});
  auto reply = nlohmann::json::parse(show.out, nullptr, false);
  ASSERT_TRUE(reply.is_object()) << show.out;
  pid_t guest_pid = reply.value("pid", 0);
  ASSERT_GT(guest_pid, 0);
  auto stopped = daemon_->Stop(SIGTERM);
  daemon_.reset();
  EXPECT_FALSE(stopped.timed_out);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(kill(guest_pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  struct stat st;
  EXPECT_NE(stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(Ctl({"guests"}).exit_code, kUnavailable);
}

// The API from a client generated by another language's toolchain from the .proto alone, as
// proto/README.md tells users to do it.
TEST_F(ControlTest, APythonClientGeneratedFromTheProtoAloneWorks) {
  if (*kGrpcPythonPlugin == '\0' || *kPython == '\0' ||
      RunProcess({kPython, "-c", "import grpc, google.protobuf"}).exit_code != 0) {
    GTEST_SKIP() << "needs grpc_python_plugin (protobuf-compiler-grpc) and python3-grpcio";
  }
  std::string out = dir_.path() + "/py";
  mkdir(out.c_str(), 0755);
  auto gen = RunProcess({kProtoc, std::string("--proto_path=") + kSourceDir + "/proto",
                         "--python_out=" + out, "--grpc_out=" + out,
                         std::string("--plugin=protoc-gen-grpc=") + kGrpcPythonPlugin,
                         "hijack/v1/control.proto"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto r = RunProcess(
      {kPython, std::string(kSourceDir) + "/tests/e2e/python_client.py", out, address_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("health: SERVING"));
  EXPECT_THAT(r.out, HasSubstr("GetGuest 42: NOT_FOUND no guest 42"));
}

// Without a fixture daemon.
TEST(ControlServe, StaleSocketIsReplaced) {
  TempDir dir;
  std::string address = "unix:" + dir.path() + "/h.sock";
  {
    BackgroundProcess first({kHijackd, "serve", "--listen", address}, dir.path());
    ASSERT_TRUE(first.WaitForOutput("listening", kDeadline)) << first.Stderr();
    first.Stop(SIGKILL);  // leaves the socket file behind, with nobody accepting
  }
  struct stat st;
  ASSERT_EQ(stat((dir.path() + "/h.sock").c_str(), &st), 0);
  BackgroundProcess second({kHijackd, "serve", "--listen", address}, dir.path());
  ASSERT_TRUE(second.WaitForOutput("listening", kDeadline)) << second.Stderr();
  auto r = RunProcess({kHijackctl, "--connect", address, "guests"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(second.Stop(SIGTERM).exit_code, 0);
}

TEST(ControlServe, DetachIsRefusedUnderNotify) {
  TempDir dir;
  auto r = RunProcess({kHijackd, "serve", "--listen", "unix:" + dir.path() + "/h.sock",
                       "--on-exit", "detach"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("notify"));
}

TEST(ControlServe, TcpMustBeLoopbackUnlessListenAny) {
  auto r = RunProcess({kHijackd, "serve", "--listen", "tcp:0.0.0.0:0", "--insecure-tcp"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not a loopback address"));
  // Authenticated (tests/e2e/auth_test.cc), or insecure on loopback, as here.
  TempDir dir;
  BackgroundProcess daemon({kHijackd, "serve", "--listen", "tcp:127.0.0.1:0", "--insecure-tcp"},
                           dir.path());
  ASSERT_TRUE(daemon.WaitForOutput("\n", kDeadline)) << daemon.Stderr();
  std::smatch m;
  std::string out = daemon.Stdout();
  ASSERT_TRUE(std::regex_search(out, m, std::regex("listening on (tcp:127\\.0\\.0\\.1:[0-9]+)")))
      << out;
  auto health = RunProcess({kHijackctl, "--connect", m[1].str(), "--json", "guests"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(daemon.Stop(SIGTERM).exit_code, 0);
}

TEST(ControlRun, RunListenServesItsSingleGuest) {
  TempDir dir;
  int port = PickFreePort();
  std::string conf =
      WriteLighttpdSite(dir, port, "run --listen\n", "server.stat-cache-engine = \"disable\"\n");
  std::string address = "unix:" + dir.path() + "/run.sock";
  BackgroundProcess run({kHijackd, "run", "--quiet", "--listen", address, "--intercept",
                         "openat,newfstatat", "--", "/usr/sbin/lighttpd", "-D", "-f", conf},
                        dir.path());
  ASSERT_THAT(HttpGetWhenUp(port, "/index.html", kDeadline), HasSubstr("200 OK"));
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {kHijackctl, "--connect", address};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  };
  auto guests = ctl({"guests"});
  EXPECT_EQ(guests.exit_code, 0) << guests.err;
  EXPECT_THAT(guests.out, HasSubstr("lighttpd"));
  std::string deny = dir.Write("deny.json", DenyPolicy(R"(["openat", "newfstatat"])"));
  ASSERT_EQ(ctl({"policy", "set", "1", deny}).exit_code, 0);
  EXPECT_THAT(HttpGet(port, "/index.html"), HasSubstr("403"));
  EXPECT_EQ(ctl({"kill", "1"}).exit_code, 0);
  // lighttpd exits 0 on SIGTERM; hijackd run passes that through and stops serving.
  auto stopped = run.Stop(0, kDeadline);  // signal 0: only wait
  EXPECT_FALSE(stopped.timed_out);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(access((dir.path() + "/run.sock").c_str(), F_OK), 0);
}

// A rate set through SetPolicy while the guest runs reaches it without a restart, on every path:
// under notify with the agent the write()/writev() calls run in the guest and the new bucket
// reaches them through the executive page; with --no-agent and under ptrace the supervisor
// shapes them. 60 calls at 200/s with burst 1, write and writev sharing the bucket, take at least
// 59 intervals of 5 ms (a lower bound: a loaded machine only makes it slower).
class LiveRateTest : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(LiveRateTest, ARateSetThroughSetPolicyShapesTheRunningGuest) {
  TempDir dir;
  std::string address = "unix:" + dir.path() + "/run.sock";
  std::string go = dir.path() + "/go";
  std::vector<std::string> argv = {kHijackd, "run", "--quiet", "--listen", address};
  argv.insert(argv.end(), GetParam().begin(), GetParam().end());
  argv.insert(argv.end(), {"--", kModulesGuest, "paced-writes", "60", "alternate", go});
  BackgroundProcess run(argv, dir.path());
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> a = {kHijackctl, "--connect", address};
    a.insert(a.end(), args.begin(), args.end());
    return RunProcess(a);
  };
  ASSERT_TRUE(Eventually([&] { return ctl({"guests"}).exit_code == 0; })) << run.Stderr();
  auto show = nlohmann::json::parse(ctl({"--json", "show", "1"}).out, nullptr, false);
  ASSERT_TRUE(show.is_object());
  std::vector<std::string> agent = AgentSyscalls(show);
  const bool with_agent = GetParam() == std::vector<std::string>{"--backend", "notify"};
  if (with_agent) {
    EXPECT_THAT(agent, IsSupersetOf({"write", "writev"})) << show.dump();
  } else {
    EXPECT_THAT(agent, ::testing::IsEmpty()) << show.dump();
  }
  std::string rate = dir.Write("rate.json", R"({"version": 1, "modules": [{"module": "stats"},
      {"module": "ratelimit", "syscalls": ["write", "writev"], "rate": 200, "burst": 1}]})");
  auto set = ctl({"policy", "set", "1", rate});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  // SetPolicy answers once the page has the new bucket: the next call meets it.
  dir.Write("go", "");
  auto stopped = run.Stop(0, kDeadline);  // signal 0: only wait
  ASSERT_FALSE(stopped.timed_out);
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stopped.out, m, std::regex(R"(60 calls in (\d+) ns)")))
      << stopped.out;
  EXPECT_GE(std::stoll(m[1]), 59LL * 5'000'000 * 95 / 100) << stopped.out;
}

INSTANTIATE_TEST_SUITE_P(
    Paths, LiveRateTest,
    ::testing::Values(std::vector<std::string>{"--backend", "notify"},
                      std::vector<std::string>{"--backend", "notify", "--no-agent"},
                      std::vector<std::string>{"--backend", "ptrace"}),
    [](const auto& info) {
      std::string name;
      for (const auto& a : info.param) {
        for (char c : a) {
          if (std::isalnum(static_cast<unsigned char>(c))) {
            name += c;
          }
        }
      }
      return name;
    });

// One admission function: `policy check FILE --guest N` (ValidatePolicy) and `policy set N FILE`
// (SetPolicy) give the same answer for the same policy on the same guest, on every backend, with
// and without the agent. The policies are those on which the two used to disagree (fs_guard
// strict on ptrace, a deny on a call the agent runs: the check called them valid) and those on
// which they agreed (a call outside the intercept set, a bad document, a policy that fits).
struct AdmissionCase {
  const char* backend;
  bool agent;
};

class AdmissionTest : public ControlTest, public ::testing::WithParamInterface<AdmissionCase> {};

TEST_P(AdmissionTest, PolicyCheckAndPolicySetAgree) {
  const AdmissionCase c = GetParam();
  // Intercepts write and writev (counted only, so the agent runs them) and the file calls
  // (checked by fs_guard, so they stay on the supervisor's path).
  std::string launch = dir_.Write("launch.json", R"({"version": 1, "modules": [
      {"module": "stats", "syscalls": ["write", "writev"]},
      {"module": "fs_guard", "mode": "check", "deny": ["/nonexistent-admission/**"]}]})");
  std::vector<std::string> args = {"--json", "launch", "--backend", c.backend, "--policy", launch};
  if (!c.agent) {
    args.push_back("--no-agent");
  }
  // Waits for a file that never appears: alive until killed, writing nothing meanwhile.
  args.insert(args.end(),
              {"--", kModulesGuest, "paced-writes", "1", "write-only", dir_.path() + "/never"});
  auto launched = Ctl(args);
  ASSERT_EQ(launched.exit_code, 0) << launched.err;
  auto reply = nlohmann::json::parse(launched.out, nullptr, false);
  ASSERT_TRUE(reply.is_object()) << launched.out;
  const std::string id = reply.value("guest_id", "");
  ASSERT_EQ(id, "1") << launched.out;
  ASSERT_TRUE(GuestRunning(id));
  auto show = Show(id);
  ASSERT_TRUE(show.is_object());
  const auto agent = AgentSyscalls(show);
  const bool write_is_agents = std::find(agent.begin(), agent.end(), "write") != agent.end();
  EXPECT_EQ(write_is_agents, c.agent && std::string(c.backend) == "notify") << show.dump();

  struct Policy {
    std::string name;
    std::string text;
    int expected;  // exit code of both, known in advance where the rules are simple
  };
  const bool injects = std::string(c.backend) == "notify";
  const std::vector<Policy> policies = {
      {"strict", R"({"version": 1, "modules": [
          {"module": "fs_guard", "mode": "strict", "deny": ["/nonexistent-admission/**"]}]})",
       injects ? 0 : kFailedPrecondition},
      {"deny_write", R"({"version": 1, "modules": [
          {"module": "deny", "syscalls": ["write"], "errno": "EPERM"}]})",
       write_is_agents ? kFailedPrecondition : 0},
      // sethostname: no module of the launch policy needs it (fs_guard does intercept mount).
      {"outside", DenyPolicy(R"(["sethostname"])"), kFailedPrecondition},
      {"bad", R"({"version": 1, "modules": [{"module": "nope"}]})", kInvalidArgument},
      {"count_write", R"({"version": 1, "modules": [
          {"module": "stats", "syscalls": ["write"]}]})", 0},
  };
  for (const auto& [name, text, expected] : policies) {
    const std::string file = dir_.Write(name + ".json", text);
    auto check = Ctl({"policy", "check", file, "--guest", id});
    auto set = Ctl({"policy", "set", id, file});
    EXPECT_EQ(check.exit_code, set.exit_code)
        << name << ": check said " << check.out << check.err << ", set said " << set.out
        << set.err;
    EXPECT_EQ(check.exit_code, expected) << name << ": " << check.err;
    if (check.exit_code != 0 && set.exit_code != 0) {
      EXPECT_EQ(check.err, set.err) << name;
    }
  }
  EXPECT_TRUE(GuestRunning(id));
  EXPECT_EQ(Ctl({"kill", id, "--signal", "KILL"}).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, AdmissionTest,
                         ::testing::Values(AdmissionCase{"notify", true},
                                           AdmissionCase{"notify", false},
                                           AdmissionCase{"ptrace", false},
                                           AdmissionCase{"ptrace-all", false}),
                         [](const auto& info) {
                           std::string name = info.param.backend;
                           std::erase(name, '-');
                           return name + (info.param.agent ? "" : "_noagent");
                         });

// Events decided InjectFd (fs_guard strict opens files itself, notify only) pass a --decision
// filter that names inject_fd and no other: the filter is a set over every decision kind, where
// it used to be an array of three flags indexed by a kind that can be 3.
class InjectFdFilterTest : public ControlTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(InjectFdFilterTest, DecisionFilterSeesInjectFdOnlyWhenNamed) {
  // stats on newfstatat: the guest's wait loop (stat every 2 ms) shows each stream is live.
  std::string policy = dir_.Write("strict.json", R"({"version": 1, "modules": [
      {"module": "stats", "syscalls": ["newfstatat"]},
      {"module": "fs_guard", "mode": "strict", "deny": ["/nonexistent-admission/**"]}]})");
  const std::string go = dir_.path() + "/go";
  auto launched = Ctl({"launch", "--backend", GetParam(), "--no-agent", "--policy", policy, "--",
                       kModulesGuest, "paced-writes", "1", "write-only", go});
  ASSERT_EQ(launched.exit_code, 0) << launched.err;
  BackgroundProcess named({kHijackctl, "--connect", address_, "--json", "events", "1",
                           "--decision", "continue,inject_fd", "--follow"},
                          dir_.path());
  BackgroundProcess unnamed({kHijackctl, "--connect", address_, "events", "1", "--decision",
                             "fail,continue", "--follow"},
                            dir_.path());
  ASSERT_TRUE(Eventually([&] {
    return named.Stdout().find("DECISION_KIND_CONTINUE") != std::string::npos &&
           unnamed.Stdout().find("<continue") != std::string::npos;
  })) << named.Stdout() << named.Stderr() << unnamed.Stdout() << unnamed.Stderr();
  dir_.Write("go", "");  // the guest opens /dev/null (fs_guard opens it: InjectFd), then exits
  // The guest's exit ends both streams after what they queued.
  auto named_done = named.Stop(0, kDeadline);
  auto unnamed_done = unnamed.Stop(0, kDeadline);
  ASSERT_FALSE(named_done.timed_out);
  ASSERT_FALSE(unnamed_done.timed_out);
  EXPECT_EQ(named_done.exit_code, 0) << named_done.err;
  EXPECT_EQ(unnamed_done.exit_code, 0) << unnamed_done.err;

  bool saw_inject = false;
  std::istringstream lines(named_done.out);
  for (std::string line; std::getline(lines, line);) {
    auto msg = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(msg.is_object()) << line;  // --json stays one valid object per line
    const std::string decision = msg["event"].value("decision", "");
    EXPECT_THAT(decision, ::testing::AnyOf("DECISION_KIND_CONTINUE", "DECISION_KIND_INJECT_FD"))
        << line;
    if (decision == "DECISION_KIND_INJECT_FD") {
      saw_inject = true;
      EXPECT_EQ(msg["event"].value("syscall", ""), "openat") << line;
      EXPECT_EQ(msg["event"].value("module", ""), "fs_guard") << line;
    }
  }
  EXPECT_TRUE(saw_inject) << named_done.out;
  EXPECT_THAT(unnamed_done.out, Not(HasSubstr("inject_fd")));
  EXPECT_THAT(unnamed_done.out, Not(HasSubstr("openat")));
  EXPECT_THAT(unnamed_done.out, HasSubstr("newfstatat("));

  // A word hijackctl does not know is refused before anything is sent, naming it.
  auto bad = Ctl({"events", "1", "--decision", "inject"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("inject"));
}

INSTANTIATE_TEST_SUITE_P(Backends, InjectFdFilterTest, ::testing::Values("notify"),
                         BackendTestName{});

// `hijackctl events` says a denial in the policy's terms, as hijackd run's log does: the path
// the rule judged, the rule, and what to change to allow the call.
class EventsDenialTextTest : public ControlTest,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(EventsDenialTextTest, TextLineNamesThePathAndTheRule) {
  const std::string secret = dir_.Write("secret.txt", "not for the guest\n");
  std::string policy = dir_.Write("deny.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "deny": [")" + secret + R"("]}]})");
  // The guest keeps trying until the test has seen a denial and kills it.
  auto launched = Ctl({"launch", "--backend", GetParam(), "--policy", policy, "--", "/bin/sh",
                       "-c", "while :; do LC_ALL=C /bin/cat " + secret + " 2>/dev/null; sleep 0.05; done"});
  ASSERT_EQ(launched.exit_code, 0) << launched.err;
  // Denials of names that do not exist (the kernel would fail them too) come first and between
  // the guest's tries: a few rounds of the loop.
  auto events = Ctl({"events", "1", "--decision", "fail", "--count", "30"});
  EXPECT_EQ(events.exit_code, 0) << events.err;
  EXPECT_THAT(events.out, HasSubstr("<fail by fs_guard")) << events.out;
  EXPECT_THAT(events.out, HasSubstr("> on " + secret + ": deny pattern")) << events.out;
  auto killed = Ctl({"kill", "1"});
  EXPECT_EQ(killed.exit_code, 0) << killed.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, EventsDenialTextTest,
                         ::testing::Values("notify", "ptrace", "ptrace-all"), BackendTestName{});

}  // namespace
}  // namespace hijack::testing
