# Unit tests of the notify backend's caller identity (daemon/backend/notify/caller_identity.h).
hijack_test(hijack_identity_unit_tests SOURCES caller_identity_test.cc
  LIBS hijack_core GTest::gtest_main TIMEOUT 120)
