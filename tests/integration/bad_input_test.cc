// Bad input never crashes or hangs hijackd: malformed policy files given to `hijackd check` and
// `hijackd run` (exit 2 with the file and the JSON path, nothing started), and malformed control
// requests sent to a real `hijackd serve` over its unix socket, after which the daemon still
// serves and its running guest keeps its policy.
//
// No sleeps: every wait polls its condition up to a deadline; a hang shows as a timed-out
// process.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hijack/v1/control.grpc.pb.h"
#include "tests/support/backend_params.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr auto kDeadline = 60s;

std::string Modules(const std::string& modules) {
  return R"({"version": 1, "modules": [)" + modules + "]}";
}

std::string Nested(size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

// One bad policy document and what the error must say after the file name.
struct BadPolicy {
  std::string name;
  std::string text;
  std::string message;
};

// Where the depth limit stops a parse: `prefix`, then `zeros` levels of arrays.
std::string DeepPath(const std::string& prefix, int zeros) {
  std::string path = prefix;
  for (int i = 0; i < zeros; ++i) {
    path += "/0";
  }
  return path + ": nested deeper than 64 levels";
}

constexpr const char* kEmpty = R"({"version": 1, "modules": []})";

std::vector<BadPolicy> BadPolicies() {
  const std::string huge = Modules(R"({"module": "stats"})") + std::string(2 << 20, ' ');
  std::string many;
  for (int i = 0; i < 300; ++i) {
    many += std::string(i ? "," : "") + R"({"module": "stats"})";
  }
  return {
      {"deep-array", Modules(Nested(100'000)), DeepPath("/modules", 63)},
      {"deep-plugin-config",
       Modules(R"({"module": "plugin", "path": "/x.so", "config": {"a": )" + Nested(100'000) +
               "}}"),
       DeepPath("/modules/0/config/a", 60)},
      {"overflowing-rate",
       Modules(R"({"module": "ratelimit", "syscalls": ["write"], "rate": 1e400})"),
       "/modules/0/rate: number 1e400 is out of range"},
      {"overflowing-version", R"({"version": -1e400, "modules": []})",
       "/version: number -1e400 is out of range"},
      {"negative-rate", Modules(R"({"module": "ratelimit", "syscalls": ["write"], "rate": -5})"),
       "/modules/0/rate: -5 is out of range (expected 0.001 .. 1000000000)"},
      {"tiny-rate", Modules(R"({"module": "ratelimit", "syscalls": ["write"], "rate": 1e-300})"),
       "/modules/0/rate: 1e-300 is out of range"},
      {"huge-burst",
       Modules(R"({"module": "ratelimit", "syscalls": ["write"], "rate": 5, "burst": 1e300})"),
       "/modules/0/burst: 1e+300 is out of range (expected 1 .. 1000000000)"},
      {"huge-max-wait",
       Modules(R"({"module": "ratelimit", "syscalls": ["write"], "rate": 5,
                   "max_wait_ms": 1e200})"),
       "/modules/0/max_wait_ms: 1e+200 is out of range"},
      {"huge-total",
       Modules(R"({"module": "ratelimit", "syscalls": ["write"], "rate": 5,
                   "total": {"rate": 1e30}})"),
       "/modules/0/total/rate: 1e+30 is out of range"},
      {"seed-beyond-int64",
       Modules(R"({"module": "fault", "syscall": "read", "seed": 18446744073709551615})"),
       "/modules/0/seed: 18446744073709551615 is out of range (at most 9223372036854775807)"},
      {"errno-beyond-int64",
       Modules(R"({"module": "deny", "syscalls": ["mkdir"], "errno": 18446744073709551615})"),
       "/modules/0/errno: errno 18446744073709551615 is out of range 1..4095"},
      {"plugin-timeout",
       Modules(R"({"module": "plugin", "path": "/x.so", "timeout_ms": 9223372036854775807})"),
       "/modules/0/timeout_ms: 9223372036854775807 is out of range (expected 1 .. 3600000)"},
      {"duplicate-key", R"({"version": 1, "modules": [], "modules": [{"module": "stats"}]})",
       "/modules: duplicate key"},
      {"nul-byte", std::string(kEmpty) + '\0' + R"(, "modules": [{"module": "stats"}]})",
       "byte " + std::to_string(std::string_view(kEmpty).size()) + ": a NUL byte"},
      {"too-many-modules", Modules(many), "/modules: 300 module instances, more than the limit"},
      {"huge-file", huge,
       std::to_string(huge.size()) + " bytes, more than the limit of 1048576"},
  };
}

ProcessResult Hijackd(std::vector<std::string> args) {
  args.insert(args.begin(), kHijackd);
  return RunProcess(args, ProcessOptions{.env_add = {}, .stdin_data = "", .deadline = 30s});
}

class BadPolicyFileTest : public ::testing::TestWithParam<std::string> {
 protected:
  // `hijackd check FILE` and `hijackd run --policy FILE` refuse with exit 2 and `message`
  // after the file name; run starts nothing.
  void ExpectRefused(const std::string& file, const std::string& message) {
    auto check = Hijackd({"check", file});
    EXPECT_FALSE(check.timed_out) << "check " << file << " hangs";
    EXPECT_EQ(check.exit_code, 2) << file << ": " << check.err;
    EXPECT_THAT(check.err, HasSubstr(file + ": " + message));
    const std::string marker = dir_.path() + "/started";
    auto run = Hijackd({"run", "--backend", GetParam(), "--policy", file, "--", "/bin/touch",
                        marker});
    EXPECT_FALSE(run.timed_out) << "run --policy " << file << " hangs";
    EXPECT_EQ(run.exit_code, 2) << file << ": " << run.err;
    EXPECT_THAT(run.err, HasSubstr(file + ": " + message));
    struct stat st {};
    EXPECT_NE(stat(marker.c_str(), &st), 0) << "a guest started under " << file;
  }

  TempDir dir_;
};

TEST_P(BadPolicyFileTest, EachBadDocumentIsRefusedWithItsJsonPath) {
  for (const auto& bad : BadPolicies()) {
    SCOPED_TRACE(bad.name);
    ExpectRefused(dir_.Write(bad.name + ".json", bad.text), bad.message);
  }
}

TEST_P(BadPolicyFileTest, FilesThatAreNotRegularAreRefusedWithoutReading) {
  ExpectRefused("/dev/zero", "a character device, not a regular file");
  ExpectRefused(dir_.path(), "a directory, not a regular file");
  // Without a writer, open(2) of a FIFO blocks forever unless it is non-blocking.
  const std::string fifo = dir_.path() + "/policy.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ExpectRefused(fifo, "a FIFO, not a regular file");
}

TEST_P(BadPolicyFileTest, OutputsThatAreFifosWithoutReadersFailInsteadOfWaiting) {
  const std::string fifo = dir_.path() + "/out.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ExpectRefused(dir_.Write("trace.json", Modules(R"({"module": "trace", "output": ")" + fifo +
                                                 R"("})")),
                "/modules/0/output: trace output " + fifo + ": ENXIO");
  ExpectRefused(dir_.Write("exec.json", Modules(R"({"module": "exec_guard", "allow": ["/**"],
                                                    "log": ")" + fifo + R"("})")),
                "/modules/0/log: " + fifo + ": ENXIO");
}

INSTANTIATE_TEST_SUITE_P(Backends, BadPolicyFileTest,
                         ::testing::ValuesIn(BackendNames()), BackendTestName{});

// A malformed request and the status it must get.
struct BadRequest {
  std::string name;
  std::function<grpc::Status(v1::Control::Stub&, grpc::ClientContext&)> send;
  grpc::StatusCode code;
  std::string message;
};

grpc::Status SetPolicy(v1::Control::Stub& stub, grpc::ClientContext& ctx, uint64_t guest,
                       const std::string& document) {
  v1::SetPolicyRequest req;
  req.set_guest_id(guest);
  req.set_document(document);
  v1::SetPolicyResponse resp;
  return stub.SetPolicy(&ctx, req, &resp);
}

grpc::Status Launch(v1::Control::Stub& stub, grpc::ClientContext& ctx,
                    const std::function<void(v1::LaunchRequest&)>& fill) {
  v1::LaunchRequest req;
  req.add_argv("/bin/true");
  fill(req);
  v1::LaunchResponse resp;
  return stub.Launch(&ctx, req, &resp);
}

std::vector<BadRequest> BadRequests(uint64_t guest) {
  std::vector<BadRequest> out;
  for (const auto& bad : BadPolicies()) {
    // Over the API the size limit of a document is RESOURCE_EXHAUSTED; the rest is the
    // document's fault.
    const bool big = bad.name == "huge-file";
    const auto code = big ? grpc::StatusCode::RESOURCE_EXHAUSTED
                          : grpc::StatusCode::INVALID_ARGUMENT;
    out.push_back({"SetPolicy " + bad.name,
                   [guest, text = bad.text](auto& stub, auto& ctx) {
                     return SetPolicy(stub, ctx, guest, text);
                   },
                   code, bad.message});
    out.push_back({"Launch with " + bad.name,
                   [text = bad.text](auto& stub, auto& ctx) {
                     return Launch(stub, ctx, [&](auto& req) { req.set_policy(text); });
                   },
                   code, big ? "policy: " + bad.message : bad.message});
  }
  out.push_back({"ValidatePolicy deep",
                 [](auto& stub, auto& ctx) {
                   v1::ValidatePolicyRequest req;
                   req.set_document(Modules(Nested(100'000)));
                   v1::ValidatePolicyResponse resp;
                   return stub.ValidatePolicy(&ctx, req, &resp);
                 },
                 grpc::StatusCode::INVALID_ARGUMENT, "nested deeper than 64 levels"});
  // Larger than the server's max receive message size (4 MiB): refused while it is read.
  out.push_back({"SetPolicy of 5 MiB",
                 [guest](auto& stub, auto& ctx) {
                   return SetPolicy(stub, ctx, guest, std::string(5 << 20, ' '));
                 },
                 grpc::StatusCode::RESOURCE_EXHAUSTED, ""});
  out.push_back({"Launch with 10000 argv entries",
                 [](auto& stub, auto& ctx) {
                   return Launch(stub, ctx, [](auto& req) {
                     for (int i = 0; i < 10'000; ++i) {
                       req.add_argv("x");
                     }
                   });
                 },
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "argv: 10001 entries"});
  out.push_back({"Launch with a 200 KiB argument",
                 [](auto& stub, auto& ctx) {
                   return Launch(stub, ctx,
                                 [](auto& req) { req.add_argv(std::string(200 << 10, 'a')); });
                 },
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "argv[1]: 204800 bytes"});
  out.push_back({"Launch with 3 MiB of environment",
                 [](auto& stub, auto& ctx) {
                   return Launch(stub, ctx, [](auto& req) {
                     for (int i = 0; i < 30; ++i) {
                       req.add_env("X" + std::to_string(i) + "=" + std::string(100 << 10, 'v'));
                     }
                   });
                 },
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "argv and env: "});
  out.push_back({"Launch with a NUL inside argv",
                 [](auto& stub, auto& ctx) {
                   return Launch(stub, ctx,
                                 [](auto& req) { req.add_argv(std::string("a\0b", 3)); });
                 },
                 grpc::StatusCode::INVALID_ARGUMENT, "argv[1]: contains a NUL byte"});
  out.push_back({"Launch with a 5000-byte cwd",
                 [](auto& stub, auto& ctx) {
                   return Launch(stub, ctx,
                                 [](auto& req) { req.set_cwd("/" + std::string(5000, 'd')); });
                 },
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "cwd: 5001 bytes"});
  out.push_back({"WatchEvents naming 2000 syscalls",
                 [](auto& stub, auto& ctx) {
                   v1::WatchEventsRequest req;
                   for (int i = 0; i < 2000; ++i) {
                     req.add_syscalls("read");
                   }
                   auto reader = stub.WatchEvents(&ctx, req);
                   v1::WatchEventsResponse msg;
                   while (reader->Read(&msg)) {
                   }
                   return reader->Finish();
                 },
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "syscalls: 2000 entries"});
  return out;
}

class BadRequestTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    socket_ = dir_.path() + "/hijack.sock";
    daemon_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{kHijackd, "serve", "--listen", "unix:" + socket_}, dir_.path());
    ASSERT_TRUE(daemon_->WaitForOutput("listening on unix:" + socket_, kDeadline))
        << daemon_->Stderr();
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);  // the server, not the client, must refuse giant messages
    stub_ = v1::Control::NewStub(grpc::CreateCustomChannel(
        "unix:" + socket_, grpc::InsecureChannelCredentials(), args));
  }

  void TearDown() override {
    if (daemon_) {
      auto stopped = daemon_->Stop(SIGTERM);
      EXPECT_FALSE(stopped.timed_out);
      EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    }
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + kDeadline);
    return ctx;
  }

  v1::Policy GetPolicy(uint64_t guest) {
    auto ctx = Context();
    v1::GetPolicyRequest req;
    req.set_guest_id(guest);
    v1::Policy policy;
    auto status = stub_->GetPolicy(ctx.get(), req, &policy);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return policy;
  }

  TempDir dir_;
  std::string socket_;
  std::unique_ptr<BackgroundProcess> daemon_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

TEST_P(BadRequestTest, EachIsRefusedWithAStatusAndTheGuestKeepsItsPolicy) {
  // The guest waits on a FIFO, then tries what its policy denies and reports.
  const std::string fifo = dir_.path() + "/go";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string made = dir_.path() + "/made";
  const std::string out = dir_.path() + "/guest.out";
  uint64_t guest = 0;
  {
    auto ctx = Context();
    v1::LaunchRequest req;
    for (const char* a : {"/bin/sh", "-c", "exec > \"$1\" 2>&1; read x < \"$2\"; mkdir \"$3\"; "
                                           "echo \"mkdir=$?\"",
                          "sh"}) {
      req.add_argv(a);
    }
    for (const auto& a : {out, fifo, made}) {
      req.add_argv(a);
    }
    req.set_backend(GetParam());
    req.set_policy(Modules(R"({"module": "deny", "syscalls": ["mkdir", "mkdirat"],
                               "errno": "EACCES"})"));
    v1::LaunchResponse resp;
    auto status = stub_->Launch(ctx.get(), req, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
    guest = resp.guest_id();
  }
  const v1::Policy before = GetPolicy(guest);

  for (const auto& bad : BadRequests(guest)) {
    SCOPED_TRACE(bad.name);
    auto ctx = Context();
    grpc::Status status = bad.send(*stub_, *ctx);
    EXPECT_EQ(status.error_code(), bad.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(bad.message));
  }

  {
    auto ctx = Context();
    v1::HealthResponse health;
    auto status = stub_->Health(ctx.get(), v1::HealthRequest(), &health);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon_->Stderr();
    EXPECT_EQ(health.status(), v1::HealthResponse::SERVING);
  }
  const v1::Policy after = GetPolicy(guest);
  EXPECT_EQ(after.version(), before.version());
  EXPECT_EQ(after.document(), before.document());

  // The guest still runs under its policy.
  {
    int fd = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "go\n", 3), 3);
    close(fd);
  }
  const auto end = std::chrono::steady_clock::now() + kDeadline;
  while (ReadFile(out).find("mkdir=") == std::string::npos &&
         std::chrono::steady_clock::now() < end) {
  }
  EXPECT_THAT(ReadFile(out), HasSubstr("mkdir=1"));
  struct stat st {};
  EXPECT_NE(stat(made.c_str(), &st), 0) << "the guest's deny rule was lost";
}

INSTANTIATE_TEST_SUITE_P(Backends, BadRequestTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

ProcessResult Hijackctl(std::vector<std::string> args) {
  args.insert(args.begin(), kHijackctl);
  return RunProcess(args, ProcessOptions{.env_add = {}, .stdin_data = "", .deadline = 30s});
}

// A unix socket that accepts connections in the kernel's backlog and never speaks.
class SilentServer {
 public:
  explicit SilentServer(const std::string& path)
      : fd_(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
  }
  ~SilentServer() { close(fd_); }

 private:
  int fd_;
};

TEST(HijackctlBadInput, BadAddressesTimeoutsAndPolicyFilesFailAtOnce) {
  TempDir dir;
  for (const std::string& address :
       {std::string("garbage"), std::string("unix:"), std::string("tcp:127.0.0.1:99999"),
        std::string("tcp:[::1"), "unix:" + std::string(200, 'p')}) {
    SCOPED_TRACE(address);
    auto r = Hijackctl({"--connect", address, "guests"});
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("--connect"));
  }
  auto timeout = Hijackctl({"--timeout", "1e300", "guests"});
  EXPECT_EQ(timeout.exit_code, 64) << timeout.err;
  EXPECT_THAT(timeout.err, HasSubstr("--timeout"));

  const std::string fifo = dir.path() + "/p.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& file : {std::string("/dev/zero"), fifo, dir.path()}) {
    SCOPED_TRACE(file);
    auto r = Hijackctl({"--connect", "unix:" + dir.path() + "/none.sock", "policy", "set", "1",
                        file});
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr(file + ": "));
    EXPECT_THAT(r.err, HasSubstr("not a regular file"));
  }
}

TEST(HijackctlBadInput, AServerThatNeverAnswersEndsAtTheDeadline) {
  TempDir dir;
  const std::string path = dir.path() + "/silent.sock";
  SilentServer server(path);
  auto r = Hijackctl({"--connect", "unix:" + path, "--timeout", "1", "guests"});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 4) << r.err;  // DEADLINE_EXCEEDED
}

}  // namespace
}  // namespace hijack::testing
