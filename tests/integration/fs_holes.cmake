# The ways around fs_guard's and exec_guard's names (docs/SECURITY.md, "File-system confinement
# in the modules"): links, renames, mounts, handles, deleted files, from a real guest on every
# backend.
hijack_test_guest(fs_holes_guest)

hijack_test(hijack_fs_holes_tests SOURCES fs_holes_test.cc
  LIBS hijack_core hijack_test_backend hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd fs_holes_guest NEEDS hijack_policy_host hijack_agent TIMEOUT 300)
