# Unit tests of the Result helpers (include/hijack/result.h); included from tests/CMakeLists.txt.
include(GoogleTest)
add_executable(hijack_result_test ${CMAKE_CURRENT_LIST_DIR}/result_test.cc)
target_link_libraries(hijack_result_test PRIVATE GTest::gtest_main hijack_common)
gtest_discover_tests(hijack_result_test DISCOVERY_TIMEOUT 60)
