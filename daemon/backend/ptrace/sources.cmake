# The ptrace backend (`--backend ptrace` and `--backend ptrace-all`). Register access is the only
# architecture-specific part: syscall_regs_<arch>.cc.
target_sources(hijack_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ptrace_backend.cc
  ${CMAKE_CURRENT_LIST_DIR}/tracer.cc
  ${CMAKE_CURRENT_LIST_DIR}/syscall_regs_x86_64.cc
)
