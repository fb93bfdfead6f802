# The transparency suite (tests/integration/transparency_test.cc): the same program natively and
# under every backend, compared by wait status, stdout and stderr.
hijack_test_guest(transparency_guest)
# Built with AddressSanitizer whatever the build's own sanitizer settings: the compiler's dynamic
# runtime (gcc's libasan) is what has to come first in LD_PRELOAD.
hijack_test_guest(sanitized_guest)
target_compile_options(sanitized_guest PRIVATE -fsanitize=address -fno-omit-frame-pointer)
target_link_options(sanitized_guest PRIVATE -fsanitize=address)

hijack_test(hijack_transparency_tests SOURCES transparency_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd transparency_guest sanitized_guest hijack_agent TIMEOUT 300)
