# The hard cases of tracing (job control, signals, exec from a thread, vfork, spawn chains,
# threads, kills while held) over every backend, and ptrace-only behaviour.
hijack_test(hijack_ptrace_tests SOURCES ptrace_test.cc LIBS hijack_test_backend GTest::gtest_main
  RUNS syscall_guest TIMEOUT 120)

# hijackd run with --backend auto/ptrace where seccomp is missing, and ptrace-only output.
hijack_test(hijack_ptrace_run_tests SOURCES ptrace_run_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd syscall_guest refusing_wrapper TIMEOUT 120)
