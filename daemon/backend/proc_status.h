// What /proc says about a guest thread, for backends that learn only its tid.
//
//   pid_t pid = ReadThreadGroupId(tid);   // the process the thread belongs to
#pragma once

#include <sys/types.h>

namespace hijack::backend {

// The Tgid line of /proc/<tid>/status; `tid` itself when it cannot be read (the thread is gone).
// Reads a file: callers on a hot path cache the answer.
pid_t ReadThreadGroupId(pid_t tid);

// The same, for a tid of another pid namespace, looked up in `proc_dirfd`, a descriptor of
// that namespace's /proc (launcher/namespace_init.h). The tgid is in that namespace too.
pid_t ReadThreadGroupIdAt(int proc_dirfd, pid_t tid);

}  // namespace hijack::backend
