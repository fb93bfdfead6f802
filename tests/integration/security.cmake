# The guest against its supervisor (docs/SECURITY.md, "Guest against supervisor"): a real guest
# attacks hijackd, its helpers and processes outside its tree, on every backend.
hijack_test_guest(attack_guest)

hijack_test(hijack_security_tests SOURCES security_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl attack_guest hijack_example_plugin hijack_policy_host hijack_agent
    hijack_control_module
  TIMEOUT 300)
