# Unit tests of the policy modules' pure parts (patterns, address rules, buckets, draws), the
# guest path resolver on the test's own process, and the policy-host client.
add_executable(hijack_modules_unit_tests ${CMAKE_CURRENT_LIST_DIR}/modules_test.cc)
target_link_libraries(hijack_modules_unit_tests PRIVATE hijack_core GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_modules_unit_tests PRIVATE
  HIJACK_TEST_EXAMPLE_PLUGIN="$<TARGET_FILE:hijack_example_plugin>"
  HIJACK_TEST_CRASHING_PLUGIN="$<TARGET_FILE:hijack_test_crashing_plugin>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_modules_unit_tests hijack_example_plugin hijack_test_crashing_plugin
                 hijack_policy_host)
gtest_discover_tests(hijack_modules_unit_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
