// PreloadablePath: what LD_PRELOAD can carry is passed through, anything else gets one link, in
// a directory every uid may cross but only this one may change.
#include "daemon/exec_page/agent_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/subprocess.h"

namespace hijack::exec_page {
namespace {

TEST(PreloadablePathTest, APathWithoutSpaceOrColonIsUnchanged) {
  auto p = PreloadablePath("/usr/lib/hijack/libhijack-agent.so");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(*p, "/usr/lib/hijack/libhijack-agent.so");
}

TEST(PreloadablePathTest, ASpaceOrAColonGetsOneLinkInA0711DirectoryOfItsOwn) {
  testing::TempDir dir;
  const std::string spaced = dir.Write("lib hijack.so", "not an ELF file; only linked to");
  const std::string coloned = dir.Write("lib:hijack.so", "another");
  auto a = PreloadablePath(spaced);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_FALSE(SplitByPreloadList(*a)) << *a;
  EXPECT_EQ(std::filesystem::read_symlink(*a).string(), spaced);
  auto again = PreloadablePath(spaced);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *a);
  auto b = PreloadablePath(coloned);
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_NE(*b, *a);
  EXPECT_EQ(std::filesystem::read_symlink(*b).string(), coloned);
  const std::string parent = std::filesystem::path(*a).parent_path().string();
  EXPECT_EQ(std::filesystem::path(*b).parent_path().string(), parent);
  struct stat st{};
  ASSERT_EQ(lstat(parent.c_str(), &st), 0) << parent;
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_EQ(st.st_uid, geteuid());
}

}  // namespace
}  // namespace hijack::exec_page
