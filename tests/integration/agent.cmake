# Integration tests of libhijack-agent.so and the executive page (tests/integration/agent_test.cc).
hijack_test_guest(agent_guest)
hijack_test_guest(agent_guest_static SOURCE agent_guest.cc)
# The scribbling mode writes its own executive page, whose layout it takes from the header.
target_include_directories(agent_guest PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_include_directories(agent_guest_static PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_options(agent_guest_static PRIVATE -static)
# Built as Debian builds packages, in every build type, so glibc's checked entry points are used.
add_executable(fortified_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/fortified_guest.cc)
target_compile_options(fortified_guest PRIVATE -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)

hijack_test(hijack_agent_integration_tests SOURCES agent_test.cc
  LIBS hijack_core hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd agent_guest agent_guest_static fortified_guest hijack_agent TIMEOUT 300)
