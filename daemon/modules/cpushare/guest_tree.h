// GuestTree: the processes and threads of one guest, found from its first process through the
// parent links of /proc (proc(5): /proc/PID/stat field 4, ppid), for services that act on a
// guest's processes (cpushare).
//
//   GuestTree tree(pid);
//   tree.Refresh();                       // a scan of /proc: every descendant of pid
//   for (pid_t p : tree.processes()) ...  // pid itself first
//   for (pid_t t : tree.Threads()) ...    // /proc/PID/task of each
//
// The kernel here has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN), so a scan reads the
// stat file of every process; callers refresh at a bounded rate. Under pid-namespace containment
// the guest's parent is the namespace's init stub (daemon/launcher/namespace_init.h), which
// adopts the guest's orphans: its other descendants belong to the guest too, the stub itself
// never does.
//
// Threads: a value; one thread at a time.
#pragma once

#include <sys/types.h>

#include <vector>

namespace hijack::modules {

class GuestTree {
 public:
  explicit GuestTree(pid_t root) : root_(root) {}

  // Rescans /proc. Returns false once the root process is gone and no descendant is left.
  bool Refresh();
  pid_t root() const { return root_; }
  // The root (while it lives) and its descendants, as of the last Refresh().
  const std::vector<pid_t>& processes() const { return processes_; }
  // The threads of processes() now (/proc/PID/task); processes that left are skipped.
  std::vector<pid_t> Threads() const;

 private:
  const pid_t root_;
  pid_t adopter_ = 0;  // the namespace init stub that adopts the guest's orphans; 0: none
  bool adopter_known_ = false;
  std::vector<pid_t> processes_;
};

// The parent of process `pid` (proc(5), /proc/PID/stat), or -1 when it is gone.
pid_t ParentOf(pid_t pid);

}  // namespace hijack::modules
