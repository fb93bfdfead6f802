# End-to-end tests of who may steer: authenticated TCP listeners (mutual TLS with certificates
# made by the openssl CLI, bearer tokens), the rules for unix callers of a root daemon, guests
# launched with their caller's rights, the audit log, and guests refused on their own socket.
add_executable(hijack_e2e_auth_tests ${CMAKE_CURRENT_LIST_DIR}/auth_test.cc)
target_link_libraries(hijack_e2e_auth_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock nlohmann_json::nlohmann_json)
target_compile_definitions(hijack_e2e_auth_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>"
  HIJACK_TEST_PROTOC=""
  HIJACK_TEST_GRPC_PYTHON_PLUGIN=""
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  HIJACK_TEST_MODULES_GUEST="$<TARGET_FILE:modules_guest>"
  HIJACK_TEST_PYTHON="")
add_dependencies(hijack_e2e_auth_tests hijackd hijackctl hijack_agent)
gtest_discover_tests(hijack_e2e_auth_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
