# End-to-end tests of `hijackd serve` as a client meets it: relative policy files resolved
# against the client's directory, guest output through `hijackctl logs`, exits told as a shell
# tells them, the API's JSON, and one stats table for `hijackctl stats` and `hijackd run`.
hijack_test(hijack_e2e_serve_tests SOURCES serve_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json
  RUNS hijackd hijackctl modules_guest NEEDS hijack_agent
  DEFINES
    HIJACK_TEST_PROTOC="${Protobuf_PROTOC_EXECUTABLE}"
    HIJACK_TEST_GRPC_PYTHON_PLUGIN=""
    HIJACK_TEST_PYTHON=""
  TIMEOUT 300)
