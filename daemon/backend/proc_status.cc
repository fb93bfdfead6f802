#include "daemon/backend/proc_status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hijack::backend {

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

}  // namespace hijack::backend
