# The ways around fs_guard's and exec_guard's names (docs/SECURITY.md, "File-system confinement
# in the modules"): links, renames, mounts, handles, deleted files, from a real guest on every
# backend.
add_executable(fs_holes_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/fs_holes_guest.cc)
target_link_libraries(fs_holes_guest PRIVATE Threads::Threads)

add_executable(hijack_fs_holes_tests ${CMAKE_CURRENT_LIST_DIR}/fs_holes_test.cc)
target_link_libraries(hijack_fs_holes_tests PRIVATE hijack_core hijack_test_backend hijack_test_support
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_fs_holes_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_FS_HOLES_GUEST="$<TARGET_FILE:fs_holes_guest>")
add_dependencies(hijack_fs_holes_tests hijackd hijack_policy_host fs_holes_guest hijack_agent)
gtest_discover_tests(hijack_fs_holes_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
