#include "daemon/modules/fs_guard/path_pattern.h"

#include <fmt/format.h>

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

}  // namespace

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

bool AnyMatches(const std::vector<PathPattern>& patterns, std::string_view path) {
  for (const auto& p : patterns) {
    if (p.Matches(path)) {
      return true;
    }
  }
  return false;
}

}  // namespace hijack::modules
