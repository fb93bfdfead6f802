# The backend table and its owner (daemon/backend/backend_set.h), and every place that names
# backends: hijackd run --backend, hijackd check, the control API's Launch and Health.
add_executable(hijack_backend_table_tests ${CMAKE_CURRENT_LIST_DIR}/backend_table_test.cc)
target_link_libraries(hijack_backend_table_tests PRIVATE hijack_test_backend hijack_test_support
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_backend_table_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>")
add_dependencies(hijack_backend_table_tests hijackd hijackctl)
gtest_discover_tests(hijack_backend_table_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
