# Unit tests of the kernel floors (include/hijack/kernel_floor.h): what each confining module
# hands the kernel, how a Landlock ABI trims it, and how admission holds a live policy to it.
add_executable(hijack_kernel_floor_unit_tests ${CMAKE_CURRENT_LIST_DIR}/kernel_floor_test.cc)
target_link_libraries(hijack_kernel_floor_unit_tests PRIVATE hijack_core GTest::gtest_main
                      GTest::gmock)
gtest_discover_tests(hijack_kernel_floor_unit_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
