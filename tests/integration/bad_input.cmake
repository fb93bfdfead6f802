# Bad input: malformed policy files for hijackd check/run, malformed requests for hijackd serve
# over its socket (a C++ client of the generated stub).
add_executable(hijack_bad_input_tests ${CMAKE_CURRENT_LIST_DIR}/bad_input_test.cc)
target_link_libraries(hijack_bad_input_tests PRIVATE hijack_core hijack_proto hijack_test_support
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_bad_input_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>")
add_dependencies(hijack_bad_input_tests hijackd hijackctl)
gtest_discover_tests(hijack_bad_input_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
