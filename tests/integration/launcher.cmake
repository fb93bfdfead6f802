# hijackd run where a seccomp profile forbids calls (as container engines' profiles do): the
# notify launch's listener handover, auto's choice, guest memory reads; the guest's view of the
# handover.
hijack_test(hijack_launcher_run_tests SOURCES launcher_handover_test.cc
  LIBS hijack_test_support PkgConfig::SECCOMP GTest::gtest_main GTest::gmock
  RUNS hijackd syscall_guest refusing_wrapper TIMEOUT 300)
