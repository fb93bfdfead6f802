add_executable(hijack_backend_tests ${CMAKE_CURRENT_LIST_DIR}/backend_test.cc)
target_link_libraries(hijack_backend_tests PRIVATE hijack_core GTest::gtest_main)
gtest_discover_tests(hijack_backend_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
