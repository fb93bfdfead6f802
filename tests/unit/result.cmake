# Unit tests of the Result helpers (include/hijack/result.h).
hijack_test(hijack_result_test SOURCES result_test.cc LIBS GTest::gtest_main hijack_common)
