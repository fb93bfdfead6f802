# Integration tests of the policy modules (daemon/modules/*) against real guests under hijackd.
add_executable(modules_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/modules_guest.cc)
target_link_libraries(modules_guest PRIVATE Threads::Threads)

# Plugins that misbehave on purpose, next to the example plugin the project builds.
foreach(p crashing_plugin wrong_abi_plugin no_symbol_plugin)
  add_library(hijack_test_${p} MODULE ${CMAKE_CURRENT_LIST_DIR}/modules_plugins/${p}.c)
  target_include_directories(hijack_test_${p} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  set_target_properties(hijack_test_${p} PROPERTIES C_VISIBILITY_PRESET hidden)
endforeach()

add_executable(hijack_modules_integration_tests ${CMAKE_CURRENT_LIST_DIR}/modules_test.cc)
target_link_libraries(hijack_modules_integration_tests PRIVATE hijack_test_backend hijack_test_support
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_modules_integration_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_MODULES_GUEST="$<TARGET_FILE:modules_guest>"
  HIJACK_TEST_EXAMPLE_PLUGIN="$<TARGET_FILE:hijack_example_plugin>"
  HIJACK_TEST_CRASHING_PLUGIN="$<TARGET_FILE:hijack_test_crashing_plugin>"
  HIJACK_TEST_WRONG_ABI_PLUGIN="$<TARGET_FILE:hijack_test_wrong_abi_plugin>"
  HIJACK_TEST_NO_SYMBOL_PLUGIN="$<TARGET_FILE:hijack_test_no_symbol_plugin>")
add_dependencies(hijack_modules_integration_tests hijackd hijack_policy_host modules_guest
                 hijack_example_plugin hijack_test_crashing_plugin hijack_test_wrong_abi_plugin
                 hijack_test_no_symbol_plugin)
gtest_discover_tests(hijack_modules_integration_tests DISCOVERY_TIMEOUT 60
                     PROPERTIES TIMEOUT 300)
