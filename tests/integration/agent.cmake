# Test guests stand for unmodified programs: no project flags, no sanitizers (a static guest
# cannot link ASan, and LeakSanitizer cannot run in a traced guest).
# Integration tests of libhijack-agent.so and the executive page (tests/integration/agent_test.cc).
add_executable(agent_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/agent_guest.cc)
target_link_libraries(agent_guest PRIVATE Threads::Threads)
add_executable(agent_guest_static ${CMAKE_CURRENT_LIST_DIR}/../guests/agent_guest.cc)
target_link_libraries(agent_guest_static PRIVATE Threads::Threads)
# The scribbling mode writes its own executive page, whose layout it takes from the header.
target_include_directories(agent_guest PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_include_directories(agent_guest_static PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_options(agent_guest_static PRIVATE -static)
# Built as Debian builds packages, in every build type, so glibc's checked entry points are used.
add_executable(fortified_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/fortified_guest.cc)
target_compile_options(fortified_guest PRIVATE -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)

add_executable(hijack_agent_integration_tests ${CMAKE_CURRENT_LIST_DIR}/agent_test.cc)
target_link_libraries(hijack_agent_integration_tests PRIVATE hijack_core hijack_test_support
                      GTest::gtest_main GTest::gmock)
target_compile_definitions(hijack_agent_integration_tests PRIVATE
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_AGENT_GUEST="$<TARGET_FILE:agent_guest>"
  HIJACK_TEST_AGENT_GUEST_STATIC="$<TARGET_FILE:agent_guest_static>"
  HIJACK_TEST_FORTIFIED_GUEST="$<TARGET_FILE:fortified_guest>"
  HIJACK_TEST_AGENT_LIBRARY="$<TARGET_FILE:hijack_agent>"
  HIJACK_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(hijack_agent_integration_tests hijackd hijack_agent agent_guest agent_guest_static
                 fortified_guest)
gtest_discover_tests(hijack_agent_integration_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
