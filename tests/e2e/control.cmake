# End-to-end tests of the control API: hijackd serve / run --listen, hijackctl, lighttpd.
# A client in another language, generated from the .proto alone (Debian: python3-grpcio).
find_program(HIJACK_GRPC_PYTHON_PLUGIN grpc_python_plugin)
find_program(HIJACK_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
add_executable(hijack_e2e_control_tests ${CMAKE_CURRENT_LIST_DIR}/control_test.cc)
target_link_libraries(hijack_e2e_control_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock nlohmann_json::nlohmann_json)
target_compile_definitions(hijack_e2e_control_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_PROTOC="${Protobuf_PROTOC_EXECUTABLE}"
  HIJACK_TEST_GRPC_PYTHON_PLUGIN="$<$<BOOL:${HIJACK_GRPC_PYTHON_PLUGIN}>:${HIJACK_GRPC_PYTHON_PLUGIN}>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  HIJACK_TEST_MODULES_GUEST="$<TARGET_FILE:modules_guest>"
  HIJACK_TEST_PYTHON="$<$<BOOL:${HIJACK_SYSTEM_PYTHON}>:${HIJACK_SYSTEM_PYTHON}>")
add_dependencies(hijack_e2e_control_tests hijackd hijackctl modules_guest hijack_agent)
gtest_discover_tests(hijack_e2e_control_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
