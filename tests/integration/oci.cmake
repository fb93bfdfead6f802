# hijackd serve --oci-listener (daemon/oci/oci_listener.h): containers of real runc and crun
# runtimes as guests (root and the runtimes, else they skip), and the socket against malformed
# connections (any user).
hijack_test(hijack_oci_tests SOURCES oci_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json
  RUNS hijackd hijackctl NEEDS hijack_control_module TIMEOUT 120)
