# `ninja hijack_bench_lighttpd`: lighttpd + wrk under native, notify, ptrace, ptrace-all and
# strace --seccomp-bpf (bench/macro/README.md). Not part of the tests: it takes about a minute.
add_custom_target(hijack_bench_lighttpd
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/lighttpd_wrk.sh --hijackd $<TARGET_FILE:hijackd>
  DEPENDS hijackd
  USES_TERMINAL
  COMMENT "lighttpd under wrk: native, notify, ptrace, ptrace-all, strace --seccomp-bpf")
