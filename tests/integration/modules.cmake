# Integration tests of the policy modules (daemon/modules/*) against real guests under hijackd.
hijack_test_guest(modules_guest)

# Plugins that misbehave on purpose, next to the example plugin the project builds.
foreach(p crashing_plugin wrong_abi_plugin no_symbol_plugin)
  add_library(hijack_test_${p} MODULE ${CMAKE_CURRENT_LIST_DIR}/modules_plugins/${p}.c)
  target_include_directories(hijack_test_${p} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  set_target_properties(hijack_test_${p} PROPERTIES C_VISIBILITY_PRESET hidden)
endforeach()

hijack_test(hijack_modules_integration_tests SOURCES modules_test.cc
  LIBS hijack_test_backend hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd modules_guest hijack_example_plugin hijack_test_crashing_plugin
       hijack_test_wrong_abi_plugin hijack_test_no_symbol_plugin
  NEEDS hijack_policy_host TIMEOUT 300)
