# Decisions that complete later (daemon/supervisor/decision_pool.h, backend.h DeferredAnswer):
# backends holding a call for a later answer, the decision pool, and a plugin whose decision
# waits, over every backend.
add_library(hijack_test_gate_plugin MODULE ${CMAKE_CURRENT_LIST_DIR}/pending_plugins/gate_plugin.c)
target_include_directories(hijack_test_gate_plugin PRIVATE ${PROJECT_SOURCE_DIR}/include
                           ${PROJECT_SOURCE_DIR})
set_target_properties(hijack_test_gate_plugin PROPERTIES C_VISIBILITY_PRESET hidden)

hijack_test(hijack_pending_tests SOURCES pending_test.cc LIBS hijack_core GTest::gtest_main
  RUNS syscall_guest hijack_test_gate_plugin NEEDS hijack_policy_host TIMEOUT 300)
