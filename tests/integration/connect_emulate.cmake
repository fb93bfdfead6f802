# net_guard "connect": "emulate" (daemon/modules/net_guard/connect_emulate.h): a real guest
# flips its sockaddr during connect, connects blocking and non-blocking sockets, on every backend.
add_executable(connect_emulate_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/connect_emulate_guest.cc)
target_link_libraries(connect_emulate_guest PRIVATE Threads::Threads)

add_executable(hijack_connect_emulate_tests ${CMAKE_CURRENT_LIST_DIR}/connect_emulate_test.cc)
target_link_libraries(hijack_connect_emulate_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_connect_emulate_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_CONNECT_EMULATE_GUEST="$<TARGET_FILE:connect_emulate_guest>")
add_dependencies(hijack_connect_emulate_tests hijackd connect_emulate_guest)
gtest_discover_tests(hijack_connect_emulate_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
