# Unit tests of the executive page, the filter's trampoline exemption and the agent's preload path.
hijack_test(hijack_agent_unit_tests
  SOURCES agent_bpf_test.cc agent_page_test.cc agent_path_test.cc
  LIBS hijack_core hijack_test_support GTest::gtest_main TIMEOUT 120)
