#include "daemon/backend/proc_status.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hijack::backend {

namespace {

pid_t TgidFrom(FILE* f, pid_t tid) {
  pid_t tgid = tid;
  if (f != nullptr) {
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

}  // namespace

pid_t ReadThreadGroupId(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", tid);
  return TgidFrom(std::fopen(path, "re"), tid);
}

pid_t ReadThreadGroupIdAt(int proc_dirfd, pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "%d/status", tid);
  const int fd = openat(proc_dirfd, path, O_RDONLY | O_CLOEXEC);
  FILE* f = fd >= 0 ? fdopen(fd, "re") : nullptr;
  if (fd >= 0 && f == nullptr) {
    close(fd);
  }
  return TgidFrom(f, tid);
}

}  // namespace hijack::backend
