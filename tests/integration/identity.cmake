# Caller identity under thread-id reuse (tests/integration/identity_test.cc), on every backend.
add_executable(identity_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/identity_guest.cc)
target_link_libraries(identity_guest PRIVATE Threads::Threads)

add_executable(hijack_identity_integration_tests ${CMAKE_CURRENT_LIST_DIR}/identity_test.cc)
target_link_libraries(hijack_identity_integration_tests PRIVATE hijack_test_backend hijack_test_support
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_identity_integration_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_IDENTITY_GUEST="$<TARGET_FILE:identity_guest>")
add_dependencies(hijack_identity_integration_tests hijackd hijack_agent identity_guest)
gtest_discover_tests(hijack_identity_integration_tests DISCOVERY_TIMEOUT 60
                     PROPERTIES TIMEOUT 600)
