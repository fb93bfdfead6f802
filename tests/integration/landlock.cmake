# The kernel-enforced floor (daemon/launcher/landlock_ruleset.h): a real guest attacks fs_guard,
# exec_guard and net_guard rules the ways name matching can miss, on every backend, with the
# Landlock floor and without it (--no-landlock).
add_executable(landlock_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/landlock_guest.cc)
target_link_libraries(landlock_guest PRIVATE Threads::Threads)

add_executable(hijack_landlock_tests ${CMAKE_CURRENT_LIST_DIR}/landlock_test.cc)
target_link_libraries(hijack_landlock_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_landlock_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_LANDLOCK_GUEST="$<TARGET_FILE:landlock_guest>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>")
add_dependencies(hijack_landlock_tests hijackd hijackctl landlock_guest hijack_agent)
gtest_discover_tests(hijack_landlock_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
