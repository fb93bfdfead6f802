# Unit tests of the notify backend's caller identity (daemon/backend/notify/caller_identity.h).
add_executable(hijack_identity_unit_tests ${CMAKE_CURRENT_LIST_DIR}/caller_identity_test.cc)
target_link_libraries(hijack_identity_unit_tests PRIVATE hijack_core GTest::gtest_main)
gtest_discover_tests(hijack_identity_unit_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
