// What /proc says about a guest thread, for backends that learn only its tid.
//
//   pid_t pid = ReadThreadGroupId(tid);                 // by number: see the caveat below
//   UniqueFd dir(open("/proc/1234", O_PATH | O_DIRECTORY | O_CLOEXEC));
//   Result<pid_t> tgid = ReadThreadGroupIdAt(dir.get());  // of the task behind `dir`, or ENOENT
//
// A number names whichever task holds it now: once a thread has ended, the kernel may give its
// id to a new task, so an answer by number is about the caller only while the caller is known to
// be alive (see daemon/backend/notify/caller_identity.h). A descriptor of /proc/TID is bound to
// the task, not to the number: after the task has been reaped every lookup through it fails with
// ENOENT, even when the number has been reused (proc(5); the kernel keeps the directory's
// struct pid, which no other task can take).
#pragma once

#include <sys/types.h>

#include "hijack/result.h"

namespace hijack::backend {

// The Tgid line of /proc/<tid>/status; `tid` itself when it cannot be read (the thread is gone).
// Reads a file by number: only for callers that know the thread is alive (a ptrace stop).
pid_t ReadThreadGroupId(pid_t tid);

// The Tgid line of `status` under `proc_dir`, a descriptor of a /proc/<tid> directory (O_PATH is
// enough). ENOENT when that task has been reaped; other errnos of openat/read as they come.
Result<pid_t> ReadThreadGroupIdAt(int proc_dir);

}  // namespace hijack::backend
