// Unit tests of the control service's building blocks: error -> status mapping, listen
// addresses, taking over a unix socket path only when it is stale, and decision kinds.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/listen_address.h"
#include "daemon/control/call_rate_limiter.h"
#include "daemon/control/decision_kinds.h"
#include "daemon/control/status.h"
#include "hijack/unique_fd.h"
#include "tests/support/subprocess.h"

namespace hijack::control {
namespace {

// Every Decision::Kind has its own proto value and comes back from it; a filter contains exactly
// the kinds it names, and a kind outside every filter's names is not contained (it used to index
// past a std::array<bool, 3>).
TEST(DecisionKindSet, EveryKindRoundTripsAndFiltersHoldOnlyTheirKinds) {
  for (auto kind : {Decision::Kind::kContinue, Decision::Kind::kFail, Decision::Kind::kReturn,
                    Decision::Kind::kInjectFd}) {
    ASSERT_NE(ToProto(kind), v1::DECISION_KIND_UNSPECIFIED);
    auto back = FromProto(ToProto(kind));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, kind);
  }
  google::protobuf::RepeatedField<int> fail_only;
  fail_only.Add(v1::DECISION_KIND_FAIL);
  auto filter = DecisionKindSet::FromProto(fail_only);
  ASSERT_TRUE(filter) << filter.error().message;
  EXPECT_TRUE(filter->Contains(Decision::Kind::kFail));
  EXPECT_FALSE(filter->Contains(Decision::Kind::kContinue));
  EXPECT_FALSE(filter->Contains(Decision::Kind::kInjectFd));
  auto all = DecisionKindSet::FromProto({});
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->Contains(Decision::Kind::kInjectFd));

  google::protobuf::RepeatedField<int> bad;
  bad.Add(v1::DECISION_KIND_RETURN);
  bad.Add(99);
  auto refused = DecisionKindSet::FromProto(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "decisions[1]: unknown decision kind 99");
  EXPECT_EQ(ToGrpcStatus(refused.error()).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::protobuf::RepeatedField<int> unspecified;
  unspecified.Add(v1::DECISION_KIND_UNSPECIFIED);
  EXPECT_FALSE(DecisionKindSet::FromProto(unspecified));
}

TEST(ToGrpcStatus, MapsTheErrorsTheApiPromises) {
  EXPECT_EQ(ToGrpcStatus({0, "/modules/0/errno: x"}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcStatus({ESRCH, "no guest 4"}).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus({ENOSYS, "mount"}).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpcStatus({ESTALE, "v"}).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpcStatus({EPERM, "kill"}).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ToGrpcStatus({EAGAIN, "limit"}).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus({ETIMEDOUT, "t"}).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ToGrpcStatus({ESHUTDOWN, "s"}).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus({EIO, "?"}).error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(ToGrpcStatus({ESRCH, "no guest 4"}).error_message(), "no guest 4");
}

TEST(ParseListenAddress, UnixAndTcp) {
  auto u = common::ParseListenAddress("unix:/run/h.sock");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, common::ListenAddress::Kind::kUnix);
  EXPECT_EQ(u->GrpcUri(), "unix:/run/h.sock");
  auto t = common::ParseListenAddress("tcp:127.0.0.1:7070");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->GrpcUri(), "127.0.0.1:7070");
  EXPECT_EQ(t->ToString(), "tcp:127.0.0.1:7070");
  EXPECT_TRUE(t->IsLoopback());
  auto v6 = common::ParseListenAddress("tcp:[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->GrpcUri(), "[::1]:0");
  EXPECT_TRUE(v6->IsLoopback());
  auto any = common::ParseListenAddress("tcp:0.0.0.0:80");
  ASSERT_TRUE(any);
  EXPECT_FALSE(any->IsLoopback());
  EXPECT_FALSE(common::ParseListenAddress("tcp:127.0.0.1:99999"));
  EXPECT_FALSE(common::ParseListenAddress("tcp:127.0.0.1"));
  EXPECT_FALSE(common::ParseListenAddress("http://x"));
  EXPECT_FALSE(common::ParseListenAddress("unix:"));
}

UniqueFd BoundSocket(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

TEST(ClaimUnixSocketPath, FreeLiveStaleAndNotASocket) {
  testing::TempDir dir;
  std::string path = dir.path() + "/s.sock";
  EXPECT_TRUE(common::ClaimUnixSocketPath(path));  // nothing there

  UniqueFd live = BoundSocket(path);
  ASSERT_EQ(listen(live.get(), 1), 0);
  auto busy = common::ClaimUnixSocketPath(path);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, EADDRINUSE);
  EXPECT_EQ(access(path.c_str(), F_OK), 0);

  live.reset();  // the file stays, nobody accepts: stale
  EXPECT_TRUE(common::ClaimUnixSocketPath(path));
  EXPECT_NE(access(path.c_str(), F_OK), 0);

  std::string file = dir.Write("plain", "x");
  auto not_socket = common::ClaimUnixSocketPath(file);
  ASSERT_FALSE(not_socket);
  EXPECT_EQ(not_socket.error().code, EEXIST);
}

TEST(CallRateLimiter, BurstThenRate) {
  CallRateLimiter limiter(10, 3);
  auto t = CallRateLimiter::Clock::now();
  EXPECT_TRUE(limiter.TryAcquire(t));
  EXPECT_TRUE(limiter.TryAcquire(t));
  EXPECT_TRUE(limiter.TryAcquire(t));
  EXPECT_FALSE(limiter.TryAcquire(t));
  EXPECT_TRUE(limiter.TryAcquire(t + std::chrono::milliseconds(100)));  // one token per 100 ms
  EXPECT_FALSE(limiter.TryAcquire(t + std::chrono::milliseconds(100)));
  EXPECT_TRUE(limiter.TryAcquire(t + std::chrono::seconds(10)));        // refilled, capped at 3
  EXPECT_TRUE(limiter.TryAcquire(t + std::chrono::seconds(10)));
  EXPECT_TRUE(limiter.TryAcquire(t + std::chrono::seconds(10)));
  EXPECT_FALSE(limiter.TryAcquire(t + std::chrono::seconds(10)));
}

}  // namespace
}  // namespace hijack::control
