// PathPattern: one absolute path pattern of a policy, matched against resolved paths.
//
//   auto p = PathPattern::Parse("/home/*/.ssh/**");
//   p->Matches("/home/ann/.ssh/id_ed25519");   // true
//
// Syntax: `*` matches any characters except '/', `?` one character except '/', `**` any
// characters including '/'. A pattern ending in "/**" or "/" is a prefix: it matches the directory
// itself and everything beneath it ("/root/" matches "/root" and "/root/.bashrc"). Anything else
// matches the whole path only. Used by fs_guard, exec_guard and fault; thread-safe (immutable).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hijack/result.h"

namespace hijack::modules {

class PathPattern {
 public:
  // Errors: the pattern is empty or not absolute.
  static Result<PathPattern> Parse(std::string_view text);

  bool Matches(std::string_view path) const;
  // Whether the pattern matches `dir` or some path beneath it: what a rename or a mount of `dir`
  // would carry away from the pattern. Errs towards true (the extension need not be a valid
  // name), which errs towards denying.
  bool MayMatchAtOrBeneath(std::string_view dir) const;
  // Whether the pattern matches `dir` and every path beneath it: a prefix pattern ("/x/**")
  // whose prefix matches `dir` or one of its ancestors.
  bool CoversSubtree(std::string_view dir) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string glob_;    // text_ normalized: a trailing "/" became "/**"
  std::string prefix_;  // for "/x/**": "/x", which the pattern matches too
};

// Parses a list of patterns; errors carry `path`/<index>.
Result<std::vector<PathPattern>> ParsePatterns(const std::vector<std::string>& texts,
                                               const std::string& path);

bool AnyMatches(const std::vector<PathPattern>& patterns, std::string_view path);
bool AnyMayMatchAtOrBeneath(const std::vector<PathPattern>& patterns, std::string_view dir);
bool AnyCoversSubtree(const std::vector<PathPattern>& patterns, std::string_view dir);

}  // namespace hijack::modules
