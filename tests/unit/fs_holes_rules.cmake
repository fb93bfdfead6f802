# Unit tests of the rules that close fs_guard's holes (renames, mounts, namespaces, handles).
add_executable(hijack_fs_holes_unit_tests ${CMAKE_CURRENT_LIST_DIR}/fs_holes_rules_test.cc)
target_link_libraries(hijack_fs_holes_unit_tests PRIVATE hijack_core GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_fs_holes_unit_tests PRIVATE
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(hijack_fs_holes_unit_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
