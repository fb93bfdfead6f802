#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "daemon/control/request_limits.h"
#include "common/bounded_file.h"
#include "common/bounded_json.h"
#include "daemon/modules/builtin.h"
#include "daemon/policy/module_registry.h"
#include "daemon/policy/policy_set.h"
#include "tests/support/subprocess.h"

namespace hijack {
namespace {

using ::testing::HasSubstr;

std::string Nested(size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

TEST(ParseBoundedJson, TheDepthLimitIsExactAndNamesThePath) {
  EXPECT_TRUE(common::ParseBoundedJson(Nested(common::kMaxJsonDepth)));
  auto deep = common::ParseBoundedJson(Nested(common::kMaxJsonDepth + 1));
  ASSERT_FALSE(deep);
  std::string path;
  for (size_t i = 0; i < common::kMaxJsonDepth; ++i) {
    path += "/0";
  }
  EXPECT_EQ(deep.error().message, path + ": nested deeper than 64 levels (the limit for objects "
                                         "and arrays)");
}

TEST(ParseBoundedJson, AHundredThousandLevelsAreRefusedNotRecursedInto) {
  auto deep = common::ParseBoundedJson("{\"a\": " + Nested(100'000) + "}");
  ASSERT_FALSE(deep);
  EXPECT_THAT(deep.error().message, HasSubstr("/a/0/0/0/0"));
}

TEST(ParseBoundedJson, NumbersThatOverflowADoubleNameTheirPath) {
  auto in_array = common::ParseBoundedJson(R"({"x": [1, 2, {"y~/": 1e400}]})");
  ASSERT_FALSE(in_array);
  EXPECT_EQ(in_array.error().message,
            "/x/2/y~0~1: number 1e400 is out of range (it does not fit a double)");
  auto negative = common::ParseBoundedJson("[-1e400]");
  ASSERT_FALSE(negative);
  EXPECT_THAT(negative.error().message, HasSubstr("/0: number -1e400 is out of range"));
  EXPECT_TRUE(common::ParseBoundedJson("[1e308, 18446744073709551616]"));  // fits (rounded)
}

TEST(ParseBoundedJson, SyntaxErrorsKeepLineAndColumnAndCommentsAreAllowed) {
  auto bad = common::ParseBoundedJson("{\n\"a\": tru}");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("line 2, column"));
  auto ok = common::ParseBoundedJson("// c\n{\"a\": /* b */ 1}");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)["a"], 1);
}

TEST(ParseBoundedJson, DuplicateKeysAndNulBytesAreRefused) {
  auto dup = common::ParseBoundedJson(R"({"version": 1, "modules": [], "modules": [1]})");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "/modules: duplicate key");
  auto nested = common::ParseBoundedJson(R"({"a": [{"b": 1, "c": 2, "b": 3}], "b": 4})");
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().message, "/a/0/b: duplicate key");
  EXPECT_TRUE(common::ParseBoundedJson(R"({"a": {"b": 1}, "b": {"b": 2}})"));
  auto nul = common::ParseBoundedJson(std::string("{}\0{\"x\": 1}", 11));
  ASSERT_FALSE(nul);
  EXPECT_THAT(nul.error().message, HasSubstr("byte 2: a NUL byte"));
}

class ReadBoundedFileTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
};

TEST_F(ReadBoundedFileTest, ReadsUpToTheLimitAndNotOneByteMore) {
  auto at = common::ReadBoundedFile(dir_.Write("at", std::string(100, 'x')), 100);
  ASSERT_TRUE(at) << at.error().message;
  EXPECT_EQ(at->size(), 100u);
  const std::string over = dir_.Write("over", std::string(101, 'x'));
  auto refused = common::ReadBoundedFile(over, 100);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, EFBIG);
  EXPECT_EQ(refused.error().message, over + ": 101 bytes, more than the limit of 100");
  auto empty = common::ReadBoundedFile(dir_.Write("empty", ""), 100);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
}

TEST_F(ReadBoundedFileTest, AFileWhoseSizeLiesIsCutAtTheLimit) {
  // /proc files report size 0 and yield more: the read itself is bounded, not just fstat.
  auto status = common::ReadBoundedFile("/proc/self/status", 16);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, EFBIG);
  EXPECT_THAT(status.error().message, HasSubstr("grew past the limit of 16 bytes"));
}

TEST_F(ReadBoundedFileTest, OnlyRegularFilesAreRead) {
  const std::string fifo = dir_.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  struct Case {
    std::string path;
    int code;
    std::string kind;
  };
  for (const Case& c : {Case{"/dev/zero", EINVAL, "a character device"},
                        Case{fifo, EINVAL, "a FIFO"},
                        Case{dir_.path(), EISDIR, "a directory"}}) {
    auto r = common::ReadBoundedFile(c.path, 1 << 20);
    ASSERT_FALSE(r) << c.path;
    EXPECT_EQ(r.error().code, c.code);
    EXPECT_EQ(r.error().message, c.path + ": " + c.kind + ", not a regular file");
  }
  auto missing = common::ReadBoundedFile(dir_.path() + "/missing", 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ENOENT);
}

TEST_F(ReadBoundedFileTest, AnOutputFifoWithoutReaderIsEnxioAndAFileIsAppended) {
  const std::string fifo = dir_.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto r = common::OpenOutputFile(fifo, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENXIO);
  const std::string log = dir_.Write("log", "a\n");
  auto out = common::OpenOutputFile(log, true);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(fcntl(fileno(*out), F_GETFL) & O_NONBLOCK, 0);
  std::fputs("b\n", *out);
  std::fclose(*out);
  EXPECT_EQ(testing::ReadFile(log), "a\nb\n");
}

TEST(ConfigReader, IntegersBeyondInt64AreErrorsNotWraps) {
  const nlohmann::json doc = nlohmann::json::parse(R"({"n": 18446744073709551615, "m": 5})");
  policy::ConfigReader c(doc, "/modules/0");
  auto n = c.Integer("n");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().message,
            "/modules/0/n: 18446744073709551615 is out of range (at most 9223372036854775807)");
  auto m = c.Integer("m", 1, 4);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message, "/modules/0/m: 5 is out of range (expected 1 .. 4)");
  EXPECT_EQ(**c.Integer("m", 5, 5), 5);
}

TEST(ConfigReader, NumbersMustBeFiniteAndInRange) {
  nlohmann::json doc = {{"nan", std::nan("")}, {"inf", INFINITY}, {"x", 2.5}};
  policy::ConfigReader c(doc, "/m");
  EXPECT_FALSE(c.Number("nan"));
  EXPECT_FALSE(c.Number("inf"));
  auto x = c.Number("x", 0, 1);
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().message, "/m/x: 2.5 is out of range (expected 0 .. 1)");
  EXPECT_FALSE(*c.Number("absent", 0, 1));
}

TEST(PolicyText, OverTheSizeOrModuleLimitIsRefused) {
  const std::string big(policy::kMaxPolicyBytes + 1, ' ');
  auto set = policy::PolicySet::FromText(big, "p.json", modules::BuiltInModules());
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, E2BIG);
  std::string modules;
  for (size_t i = 0; i <= policy::kMaxModules; ++i) {
    modules += std::string(i ? "," : "") + R"({"module": "stats"})";
  }
  auto many = policy::PolicySet::FromText(R"({"version": 1, "modules": [)" + modules + "]}",
                                          "p.json", modules::BuiltInModules());
  ASSERT_FALSE(many);
  EXPECT_THAT(many.error().message, HasSubstr("p.json: /modules: 257 module instances"));
}

TEST(RequestLimits, LaunchRequestsAreBoundedFieldByField) {
  const control::RequestLimits limits{.max_argv = 3, .max_env = 2, .max_string_bytes = 8,
                                      .max_exec_bytes = 20, .max_path_bytes = 10,
                                      .max_names = 2, .max_name_bytes = 6};
  auto check = [&](auto fill) {
    v1::LaunchRequest req;
    req.add_argv("/bin/sh");
    fill(req);
    auto r = control::ValidateLaunchRequest(req, limits);
    return r ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(check([](auto&) {}), "ok");
  EXPECT_EQ(check([](auto& r) { r.add_argv("a"); r.add_argv("b"); r.add_argv("c"); }),
            "argv: 4 entries, more than the limit of 3");
  EXPECT_EQ(check([](auto& r) { r.add_argv("123456789"); }),
            "argv[1]: 9 bytes, more than the limit of 8");
  EXPECT_EQ(check([](auto& r) { r.add_argv(std::string("a\0b", 3)); }),
            "argv[1]: contains a NUL byte (at offset 1)");
  EXPECT_EQ(check([](auto& r) { r.add_env("A=1"); r.add_env("B=2"); r.add_env("C=3"); }),
            "env: 3 entries, more than the limit of 2");
  EXPECT_EQ(check([](auto& r) { r.add_env("A=123456"); r.add_env("B=123456"); }),
            "argv and env: 26 bytes, more than the limit of 20");
  EXPECT_EQ(check([](auto& r) { r.set_cwd("/0123456789"); }),
            "cwd: 11 bytes, more than the limit of 10");
  EXPECT_EQ(check([](auto& r) { r.set_backend("ptrace-all"); }),
            "backend: 10 bytes, more than the limit of 6");
  EXPECT_EQ(check([](auto& r) {
              r.add_intercept("a");
              r.add_intercept("b");
              r.add_intercept("c");
            }),
            "intercept: 3 entries, more than the limit of 2");
  v1::LaunchRequest req;
  req.set_policy(std::string(policy::kMaxPolicyBytes + 1, ' '));
  auto big = control::ValidateLaunchRequest(req, {});
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, E2BIG);  // RESOURCE_EXHAUSTED over the API
  v1::WatchEventsRequest watch;
  watch.add_decisions(v1::DECISION_KIND_FAIL);
  watch.add_decisions(v1::DECISION_KIND_RETURN);
  control::RequestLimits one_name;
  one_name.max_names = 1;
  auto w = control::ValidateWatchEventsRequest(watch, one_name);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "decisions: 2 entries, more than the limit of 1");
}

}  // namespace
}  // namespace hijack
