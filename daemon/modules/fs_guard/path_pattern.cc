#include "daemon/modules/fs_guard/path_pattern.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace hijack::modules {
namespace {

// Iterative glob match with backtracking to the last star ("*" or "**").
bool Glob(std::string_view pat, std::string_view s) {
  size_t p = 0, i = 0;
  size_t star_p = std::string_view::npos, star_i = 0;
  bool star_crosses = false;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star_crosses = p + 1 < pat.size() && pat[p + 1] == '*';
      p += star_crosses ? 2 : 1;
      star_p = p;
      star_i = i;
      continue;
    }
    if (p < pat.size() && (pat[p] == s[i] || (pat[p] == '?' && s[i] != '/'))) {
      ++p;
      ++i;
      continue;
    }
    // Backtrack: let the last star eat one more character ('/' only for "**").
    if (star_p != std::string_view::npos && (star_crosses || s[star_i] != '/')) {
      p = star_p;
      i = ++star_i;
      continue;
    }
    return false;
  }
  while (p < pat.size() && pat[p] == '*') {
    ++p;
  }
  return p == pat.size();
}

// Whether `s` is the start of some string `pat` matches. The glob as a set of pattern positions
// (an NFA): a star may eat the next character or be skipped; nothing is backtracked, so the
// answer is exact for any mix of "*" and "**".
bool GlobPrefix(std::string_view pat, std::string_view s) {
  const size_t n = pat.size();
  std::vector<char> cur(n + 1, 0), next(n + 1, 0);
  auto star_len = [&](size_t p) -> size_t { return p + 1 < n && pat[p + 1] == '*' ? 2 : 1; };
  auto close = [&](std::vector<char>& set) {
    for (size_t p = 0; p < n; ++p) {  // a star may match nothing: its successor is live too
      if (set[p] && pat[p] == '*') {
        set[p + star_len(p)] = 1;
      }
    }
  };
  cur[0] = 1;
  close(cur);
  for (char c : s) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (size_t p = 0; p < n; ++p) {
      if (!cur[p]) {
        continue;
      }
      if (pat[p] == '*') {
        if (star_len(p) == 2 || c != '/') {
          next[p] = 1;
          any = true;
        }
      } else if (pat[p] == c || (pat[p] == '?' && c != '/')) {
        next[p + 1] = 1;
        any = true;
      }
    }
    if (!any) {
      return false;
    }
    close(next);
    std::swap(cur, next);
  }
  return true;
}

}  // namespace

bool PathPattern::MayMatchAtOrBeneath(std::string_view dir) const {
  if (Matches(dir)) {
    return true;
  }
  std::string below(dir);
  if (below != "/") {
    below += '/';
  }
  return GlobPrefix(glob_, below) || (!prefix_.empty() && GlobPrefix(prefix_, below));
}

bool PathPattern::CoversSubtree(std::string_view dir) const {
  if (prefix_.empty()) {
    return false;
  }
  // `dir` and each ancestor, up to "/".
  std::string_view a = dir;
  while (true) {
    if (Glob(prefix_, a)) {
      return true;
    }
    if (a.size() <= 1) {
      return false;
    }
    const size_t slash = a.rfind('/');
    a = slash == 0 ? std::string_view("/") : a.substr(0, slash);
  }
}

Result<PathPattern> PathPattern::Parse(std::string_view text) {
  if (text.empty() || text[0] != '/') {
    return MakeError(fmt::format("path pattern \"{}\" must be absolute (start with /)", text));
  }
  PathPattern p;
  p.text_ = std::string(text);
  p.glob_ = p.text_;
  if (p.glob_.size() > 1 && p.glob_.back() == '/') {
    p.glob_ += "**";
  }
  if (p.glob_ == "/") {
    p.glob_ = "/**";
  }
  if (p.glob_.size() >= 3 && p.glob_.ends_with("/**")) {
    p.prefix_ = p.glob_.substr(0, p.glob_.size() - 3);
    if (p.prefix_.empty()) {
      p.prefix_ = "/";
    }
  }
  return p;
}

bool PathPattern::Matches(std::string_view path) const {
  if (!prefix_.empty() && Glob(prefix_, path)) {
    return true;
  }
  return Glob(glob_, path);
}

Result<std::vector<PathPattern>> ParsePatterns(const std::vector<std::string>& texts,
                                               const std::string& path) {
  std::vector<PathPattern> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto p = PathPattern::Parse(texts[i]);
    if (!p) {
      return MakeError(fmt::format("{}/{}: {}", path, i, p.error().message));
    }
    out.push_back(std::move(*p));
  }
  return out;
}

namespace {

// Whether `(pattern.*test)(path)` holds for any of `patterns`.
bool AnyOf(const std::vector<PathPattern>& patterns,
           bool (PathPattern::*test)(std::string_view) const, std::string_view path) {
  return std::ranges::any_of(patterns, [&](const PathPattern& p) { return (p.*test)(path); });
}

}  // namespace

bool AnyMatches(const std::vector<PathPattern>& patterns, std::string_view path) {
  return AnyOf(patterns, &PathPattern::Matches, path);
}

bool AnyMayMatchAtOrBeneath(const std::vector<PathPattern>& patterns, std::string_view dir) {
  return AnyOf(patterns, &PathPattern::MayMatchAtOrBeneath, dir);
}

bool AnyCoversSubtree(const std::vector<PathPattern>& patterns, std::string_view dir) {
  return AnyOf(patterns, &PathPattern::CoversSubtree, dir);
}

}  // namespace hijack::modules
