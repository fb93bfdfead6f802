# End-to-end tests of who may steer: authenticated TCP listeners (mutual TLS with certificates
# made by the openssl CLI, bearer tokens), the rules for unix callers of a root daemon, guests
# launched with their caller's rights, the audit log, and guests refused on their own socket.
# No protoc, Python or gRPC plugin: only the control tests (control.cmake) generate a client.
hijack_test(hijack_e2e_auth_tests SOURCES auth_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json
  RUNS hijackd hijackctl hijack_agent modules_guest
  DEFINES HIJACK_TEST_PROTOC="" HIJACK_TEST_GRPC_PYTHON_PLUGIN="" HIJACK_TEST_PYTHON=""
  TIMEOUT 300)
