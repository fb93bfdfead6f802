#include "daemon/process/proc_status.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace hijack::backend {
namespace {

// The number after "Tgid:" in the text of a status file, or -1.
pid_t ParseTgid(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("Tgid:")) {
      line.remove_prefix(5);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
        line.remove_prefix(1);
      }
      long v = 0;
      bool any = false;
      for (char c : line) {
        if (c < '0' || c > '9' || v > 1'000'000'000) {
          break;
        }
        v = v * 10 + (c - '0');
        any = true;
      }
      return any && v > 0 ? static_cast<pid_t>(v) : -1;
    }
    pos = end + 1;
  }
  return -1;
}

}  // namespace

pid_t ReadThreadGroupId(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", tid);
  pid_t tgid = tid;
  if (FILE* f = std::fopen(path, "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "Tgid:", 5) == 0) {
        tgid = static_cast<pid_t>(std::atoi(line + 5));
        break;
      }
    }
    std::fclose(f);
  }
  return tgid;
}

Result<pid_t> ReadThreadGroupIdAt(int proc_dir) {
  const int fd = openat(proc_dir, "status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError(errno, "openat /proc/TID/status");
  }
  // Tgid is the fourth line; the first 512 bytes always hold it (Name is at most 64 bytes,
  // escaped).
  char buf[512];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (n < 0) {
    return ErrnoError(err == ESRCH ? ENOENT : err, "read /proc/TID/status");
  }
  const pid_t tgid = ParseTgid(std::string_view(buf, static_cast<size_t>(n)));
  if (tgid < 0) {
    return ErrnoError(EIO, "no Tgid line in /proc/TID/status");
  }
  return tgid;
}

}  // namespace hijack::backend
