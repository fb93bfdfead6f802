# End-to-end tests of `hijackd serve` as a client meets it: relative policy files resolved
# against the client's directory, guest output through `hijackctl logs`, exits told as a shell
# tells them, the API's JSON, and one stats table for `hijackctl stats` and `hijackd run`.
add_executable(hijack_e2e_serve_tests ${CMAKE_CURRENT_LIST_DIR}/serve_test.cc)
target_link_libraries(hijack_e2e_serve_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock nlohmann_json::nlohmann_json)
target_compile_definitions(hijack_e2e_serve_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_PROTOC="${Protobuf_PROTOC_EXECUTABLE}"
  HIJACK_TEST_GRPC_PYTHON_PLUGIN=""
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  HIJACK_TEST_MODULES_GUEST="$<TARGET_FILE:modules_guest>"
  HIJACK_TEST_PYTHON="")
add_dependencies(hijack_e2e_serve_tests hijackd hijackctl hijack_agent)
gtest_discover_tests(hijack_e2e_serve_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
