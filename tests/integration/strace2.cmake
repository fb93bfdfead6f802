# hijackd strace, second part: the structures strace decodes (struct stat, timespec, wait status,
# pipe descriptors, read buffers, socket protocols, socket options, clone3's arguments) compared
# line by line with the real strace(1) on the same guest, the options checked against strace's
# own output, and -p (attaching to a running process) on the ptrace backends.
hijack_test_guest(strace2_guest)
hijack_test(hijack_strace2_tests SOURCES strace2_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd syscall_guest refusing_wrapper strace2_guest
  TIMEOUT 300)
