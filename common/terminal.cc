#include "common/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

namespace hijack::common {
namespace {

constexpr std::string_view kCut = "...";

std::string Cut(std::string_view line, size_t width) {
  if (width <= kCut.size()) {
    return std::string(line.substr(0, width));
  }
  return std::string(line.substr(0, width - kCut.size())) + std::string(kCut);
}

}  // namespace

bool NoColorRequested() {
  const char* value = std::getenv("NO_COLOR");
  return value != nullptr && value[0] != '\0';
}

bool ColourWanted(int fd) { return !NoColorRequested() && isatty(fd) == 1; }

size_t OutputWidth(int fd) {
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr && columns[0] != '\0') {
    size_t n = 0;
    const char* end = columns + std::string_view(columns).size();
    if (auto [at, ec] = std::from_chars(columns, end, n); ec == std::errc() && at == end && n > 0) {
      return n;
    }
  }
  winsize ws{};
  if (isatty(fd) == 1 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 0;
}

std::string FitLine(std::string_view line, size_t width, size_t indent) {
  if (width == 0 || line.size() <= width) {
    return std::string(line);
  }
  // Room for at least a few words after the indent, or wrapping would make a column of letters.
  if (indent == 0 || indent + 16 > width) {
    return Cut(line, width);
  }
  std::string out;
  std::string_view rest = line;
  bool first = true;
  while (!rest.empty()) {
    const size_t room = first ? width : width - indent;
    if (!first) {
      out += '\n';
      out.append(indent, ' ');
    }
    if (rest.size() <= room) {
      out += rest;
      break;
    }
    size_t split = rest.rfind(' ', room);
    if (split == std::string_view::npos || split <= (first ? indent : 0)) {
      out += rest.substr(0, room);  // one word wider than the column: broken, not lost
      rest.remove_prefix(room);
    } else {
      out += rest.substr(0, split);
      rest.remove_prefix(split + 1);
    }
    while (!rest.empty() && rest.front() == ' ') {
      rest.remove_prefix(1);
    }
    first = false;
  }
  return out;
}

std::string FitLines(std::string_view text, size_t width) {
  if (width == 0) {
    return std::string(text);
  }
  std::string out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    out += FitLine(line, width);
    if (nl == std::string_view::npos) {
      break;
    }
    out += '\n';
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace hijack::common
