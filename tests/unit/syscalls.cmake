# Unit tests of daemon/syscalls (hijack_syscalls); included from tests/unit/CMakeLists.txt.
include(GoogleTest)
add_executable(hijack_syscalls_test ${CMAKE_CURRENT_LIST_DIR}/syscalls_test.cc)
target_link_libraries(hijack_syscalls_test PRIVATE GTest::gtest_main GTest::gmock hijack_syscalls)
gtest_discover_tests(hijack_syscalls_test DISCOVERY_TIMEOUT 60)
