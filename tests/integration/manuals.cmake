# The generated manual pages, JSON Schema and shell completions (cmake/HijackManuals.cmake):
# rendering without warnings, coverage of every command, module and setting, the schema against
# a third-party validator and `hijackd check`, completion in real bash and zsh.
hijack_test(hijack_manuals_tests SOURCES manuals_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json
  RUNS hijackd hijackctl NEEDS hijack_manuals
  DEFINES HIJACK_TEST_MAN_DIR="${PROJECT_BINARY_DIR}/man"
  TIMEOUT 300)
