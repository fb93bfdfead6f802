#include "daemon/modules/cpushare/guest_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace hijack::modules {
namespace {

// Numeric entries of directory `path` (/proc, /proc/PID/task).
std::vector<pid_t> NumericEntries(const std::string& path) {
  std::vector<pid_t> out;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    return out;
  }
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long v = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && v > 0) {
      out.push_back(static_cast<pid_t>(v));
    }
  }
  closedir(dir);
  return out;
}

}  // namespace

pid_t ParentOf(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  char buf[512];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) {
    return -1;
  }
  buf[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the last ')' ends it.
  const char* close_paren = std::strrchr(buf, ')');
  if (close_paren == nullptr || close_paren[1] == '\0') {
    return -1;
  }
  char state = 0;
  int ppid = -1;
  if (std::sscanf(close_paren + 2, "%c %d", &state, &ppid) != 2) {
    return -1;
  }
  return state == 'Z' || state == 'X' ? -1 : ppid;
}

bool GuestTree::Refresh() {
  if (!adopter_known_) {
    // Under containment the guest is a child of the init stub, not of hijackd.
    const pid_t parent = ParentOf(root_);
    adopter_known_ = parent > 0;
    adopter_ = parent > 0 && parent != getpid() ? parent : 0;
  }
  std::multimap<pid_t, pid_t> children;
  for (pid_t p : NumericEntries("/proc")) {
    const pid_t parent = ParentOf(p);
    if (parent > 0) {
      children.emplace(parent, p);
    }
  }
  std::vector<pid_t> found;
  std::vector<pid_t> todo;
  if (ParentOf(root_) > 0) {
    todo.push_back(root_);
  }
  if (adopter_ != 0) {
    auto [b, e] = children.equal_range(adopter_);
    for (auto it = b; it != e; ++it) {
      if (it->second != root_) {
        todo.push_back(it->second);
      }
    }
  }
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    if (std::find(found.begin(), found.end(), p) != found.end()) {
      continue;
    }
    found.push_back(p);
    auto [b, e] = children.equal_range(p);
    for (auto it = b; it != e; ++it) {
      todo.push_back(it->second);
    }
  }
  processes_ = std::move(found);
  return !processes_.empty();
}

std::vector<pid_t> GuestTree::Threads() const {
  std::vector<pid_t> out;
  for (pid_t p : processes_) {
    for (pid_t t : NumericEntries("/proc/" + std::to_string(p) + "/task")) {
      out.push_back(t);
    }
  }
  return out;
}

}  // namespace hijack::modules
