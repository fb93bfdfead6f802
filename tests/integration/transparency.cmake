# The transparency suite (tests/integration/transparency_test.cc): the same program natively and
# under every backend, compared by wait status, stdout and stderr.
add_executable(transparency_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/transparency_guest.cc)
target_link_libraries(transparency_guest PRIVATE Threads::Threads)
add_executable(hijack_transparency_tests ${CMAKE_CURRENT_LIST_DIR}/transparency_test.cc)
target_link_libraries(hijack_transparency_tests PRIVATE hijack_test_support GTest::gtest_main
                      GTest::gmock)
target_compile_definitions(hijack_transparency_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_TRANSPARENCY_GUEST="$<TARGET_FILE:transparency_guest>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>")
add_dependencies(hijack_transparency_tests hijackd hijack_agent transparency_guest)
gtest_discover_tests(hijack_transparency_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
# Built with AddressSanitizer whatever the build's own sanitizer settings: the compiler's dynamic
# runtime (gcc's libasan) is what has to come first in LD_PRELOAD.
add_executable(sanitized_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/sanitized_guest.cc)
target_compile_options(sanitized_guest PRIVATE -fsanitize=address -fno-omit-frame-pointer)
target_link_options(sanitized_guest PRIVATE -fsanitize=address)
target_link_libraries(sanitized_guest PRIVATE Threads::Threads)
target_compile_definitions(hijack_transparency_tests PRIVATE
  HIJACK_TEST_SANITIZED_GUEST="$<TARGET_FILE:sanitized_guest>")
add_dependencies(hijack_transparency_tests sanitized_guest)
