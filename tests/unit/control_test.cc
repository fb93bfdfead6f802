// Unit tests of the control service's building blocks: error -> status mapping, listen
// addresses, and taking over a unix socket path only when it is stale.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/control/call_rate_limiter.h"
#include "common/listen_address.h"
#include "daemon/control/status.h"
#include "hijack/unique_fd.h"
#include "tests/support/subprocess.h"

namespace hijack::control {
namespace {

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
