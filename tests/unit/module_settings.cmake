# Unit tests of the modules' settings tables (module_registry.h) against their factories and of
# the structural check derived from them (policy_schema.h).
add_executable(hijack_module_settings_tests ${CMAKE_CURRENT_LIST_DIR}/module_settings_test.cc)
target_link_libraries(hijack_module_settings_tests PRIVATE hijack_core GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_module_settings_tests PRIVATE
  HIJACK_TEST_EXAMPLE_PLUGIN="$<TARGET_FILE:hijack_example_plugin>")
add_dependencies(hijack_module_settings_tests hijack_example_plugin hijack_policy_host)
gtest_discover_tests(hijack_module_settings_tests DISCOVERY_TIMEOUT 60
                     PROPERTIES TIMEOUT 120 ${HIJACK_TEST_ENVIRONMENT})
