# Packet QoS (daemon/modules/ratelimit streams): per-stream rates and priorities on a guest's UDP
# sends and receives, on every backend; per-datagram counting; live SetPolicy; bad settings.
hijack_test_guest(qos_guest)

hijack_test(hijack_qos_tests SOURCES qos_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl qos_guest TIMEOUT 300)
