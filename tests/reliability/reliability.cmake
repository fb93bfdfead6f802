# Load and fault scenarios (tests/reliability/reliability_test.cc): real guests under hijackd run
# and hijackd serve, real gRPC clients. ctest runs the short form (label `reliability`);
# HIJACK_RELIABILITY_LONG=1 runs the long one, and scripts/reliability-report turns the result
# lines of either into docs/RELIABILITY.md.
hijack_test_guest(reliability_guest)

# A plugin whose policy host floods hijackd (flood_plugin.c).
add_library(hijack_test_flood_plugin MODULE ${CMAKE_CURRENT_LIST_DIR}/flood_plugin.c)
target_include_directories(hijack_test_flood_plugin PRIVATE ${PROJECT_SOURCE_DIR}/include
                           ${PROJECT_SOURCE_DIR})
target_link_libraries(hijack_test_flood_plugin PRIVATE Threads::Threads)
set_target_properties(hijack_test_flood_plugin PROPERTIES C_VISIBILITY_PRESET hidden)

hijack_test(hijack_reliability_tests SOURCES reliability_test.cc
  LIBS hijack_test_support hijack_proto GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json
  RUNS hijackd reliability_guest hijack_test_gate_plugin hijack_test_flood_plugin
  NEEDS hijack_policy_host
  LABELS reliability TIMEOUT 300)
