# Unit tests of the kernel floors (include/hijack/kernel_floor.h): what each confining module
# hands the kernel, how a Landlock ABI trims it, and how admission holds a live policy to it.
hijack_test(hijack_kernel_floor_unit_tests SOURCES kernel_floor_test.cc
  LIBS hijack_core GTest::gtest_main GTest::gmock TIMEOUT 120)
