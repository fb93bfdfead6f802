# End-to-end tests of the control API: hijackd serve / run --listen, hijackctl, lighttpd.
# A client in another language, generated from the .proto alone (Debian: python3-grpcio).
find_program(HIJACK_GRPC_PYTHON_PLUGIN grpc_python_plugin)
find_program(HIJACK_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
hijack_test(hijack_e2e_control_tests SOURCES control_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json
  RUNS hijackd hijackctl modules_guest NEEDS hijack_agent
  DEFINES
    HIJACK_TEST_PROTOC="${Protobuf_PROTOC_EXECUTABLE}"
    HIJACK_TEST_GRPC_PYTHON_PLUGIN="$<$<BOOL:${HIJACK_GRPC_PYTHON_PLUGIN}>:${HIJACK_GRPC_PYTHON_PLUGIN}>"
    HIJACK_TEST_PYTHON="$<$<BOOL:${HIJACK_SYSTEM_PYTHON}>:${HIJACK_SYSTEM_PYTHON}>"
  TIMEOUT 300)
