# net_guard "connect": "emulate" (daemon/modules/net_guard/connect_emulate.h): a real guest
# flips its sockaddr during connect, connects blocking and non-blocking sockets, on every backend.
hijack_test_guest(connect_emulate_guest)

hijack_test(hijack_connect_emulate_tests SOURCES connect_emulate_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd connect_emulate_guest TIMEOUT 300)
