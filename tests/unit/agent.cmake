# Unit tests of the executive page, the filter's trampoline exemption and the agent's preload path.
add_executable(hijack_agent_unit_tests ${CMAKE_CURRENT_LIST_DIR}/agent_bpf_test.cc
               ${CMAKE_CURRENT_LIST_DIR}/agent_page_test.cc
               ${CMAKE_CURRENT_LIST_DIR}/agent_path_test.cc)
target_link_libraries(hijack_agent_unit_tests PRIVATE hijack_core hijack_test_support GTest::gtest_main)
gtest_discover_tests(hijack_agent_unit_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
