// Unit tests of the Result helpers of include/hijack/result.h.
#include "hijack/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace hijack {
namespace {

Result<int> Parse(const std::string& text) {
  if (text.empty()) return MakeError("empty number");
  return std::stoi(text);
}

Result<void> Check(int value) {
  if (value < 0) return MakeError("negative: " + std::to_string(value));
  return {};
}

Result<int> Double(const std::string& text) {
  HIJACK_ASSIGN_OR_RETURN(int value, Parse(text));
  HIJACK_TRY(Check(value));
  return 2 * value;
}

Result<std::unique_ptr<int>> Boxed(int value) { return std::make_unique<int>(value); }

Result<int> Unbox() {
  std::unique_ptr<int> box;
  HIJACK_ASSIGN_OR_RETURN(box, Boxed(7));  // an existing variable, move-only value
  HIJACK_ASSIGN_OR_RETURN(auto again, Boxed(8));
  return *box + *again;
}

TEST(ResultMacros, PassTheValueOn) {
  auto r = Double("21");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(Unbox().value_or(0), 15);
}

TEST(ResultMacros, ReturnTheFirstErrorUnchanged) {
  auto empty = Double("");
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().message, "empty number");
  auto negative = Double("-3");
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().message, "negative: -3");
}

TEST(ResultMacros, KeepTheErrno) {
  auto fails = []() -> Result<void> {
    HIJACK_TRY(Result<int>(ErrnoError(EACCES, "openat /x")));
    return {};
  };
  auto r = fails();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, EACCES);
}

}  // namespace
}  // namespace hijack
