# The generated manual pages, JSON Schema and shell completions (cmake/HijackManuals.cmake):
# rendering without warnings, coverage of every command, module and setting, the schema against
# a third-party validator and `hijackd check`, completion in real bash and zsh.
add_executable(hijack_manuals_tests ${CMAKE_CURRENT_LIST_DIR}/manuals_test.cc)
target_link_libraries(hijack_manuals_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock nlohmann_json::nlohmann_json)
target_compile_definitions(hijack_manuals_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_MAN_DIR="${PROJECT_BINARY_DIR}/man"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_manuals_tests hijackd hijackctl hijack_manuals)
gtest_discover_tests(hijack_manuals_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
