#include "daemon/launcher/filter.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

#include "hijack/unique_fd.h"

namespace hijack::launcher {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

}  // namespace

bool NeverNotified(int nr) { return nr == SYS_exit || nr == SYS_exit_group; }

Result<FilterProgram> CompileFilter(const SyscallSet& intercept, FilterAction action) {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) {
    return MakeError("seccomp_init failed");
  }
  // The child sets no_new_privs itself before loading; libseccomp must not try.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  const uint32_t act = action == FilterAction::kNotify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRACE(0);
  for (int nr : intercept.Numbers()) {
    if (action == FilterAction::kNotify && NeverNotified(nr)) {
      continue;
    }
    int rc = seccomp_rule_add(ctx.get(), act, nr, 0);
    if (rc < 0) {
      return ErrnoError(-rc, "seccomp_rule_add for syscall " + std::to_string(nr));
    }
  }
  UniqueFd mem(memfd_create("hijack-filter", MFD_CLOEXEC));
  if (!mem.valid()) {
    return ErrnoError(errno, "memfd_create");
  }
  if (int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc < 0) {
    return ErrnoError(-rc, "seccomp_export_bpf");
  }
  struct stat st {};
  if (fstat(mem.get(), &st) != 0) {
    return ErrnoError(errno, "fstat of exported filter");
  }
  std::vector<sock_filter> insns(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  const size_t bytes = insns.size() * sizeof(sock_filter);
  if (pread(mem.get(), insns.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
    return ErrnoError(errno, "reading exported filter");
  }
  return FilterProgram(std::move(insns));
}

}  // namespace hijack::launcher
