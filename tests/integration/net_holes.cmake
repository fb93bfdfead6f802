# The network holes of net_guard and ratelimit, tried by a real guest on loopback sockets against
# every backend (docs/SECURITY.md, "Network confinement in the modules").
add_executable(net_holes_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/net_holes_guest.cc)

add_executable(hijack_net_holes_tests ${CMAKE_CURRENT_LIST_DIR}/net_holes_test.cc)
target_link_libraries(hijack_net_holes_tests PRIVATE hijack_core hijack_test_support
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_net_holes_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_NET_HOLES_GUEST="$<TARGET_FILE:net_holes_guest>")
add_dependencies(hijack_net_holes_tests hijackd net_holes_guest hijack_agent)
gtest_discover_tests(hijack_net_holes_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
