# The races left between a module's check and the kernel's own reading (docs/SECURITY.md,
# "File-system confinement in the modules", "Network confinement in the modules"): a real guest
# races exec_guard on every backend, with and without the Landlock floor.
hijack_test_guest(confine_guest)

hijack_test(hijack_confine_tests SOURCES confine_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd confine_guest NEEDS hijack_policy_host hijack_agent TIMEOUT 300)
