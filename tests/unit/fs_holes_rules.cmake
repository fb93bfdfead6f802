# Unit tests of the rules that close fs_guard's holes (renames, mounts, namespaces, handles).
hijack_test(hijack_fs_holes_unit_tests SOURCES fs_holes_rules_test.cc
  LIBS hijack_core GTest::gtest_main GTest::gmock TIMEOUT 120)
