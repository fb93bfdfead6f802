# Decisions that complete later (daemon/supervisor/decision_pool.h, backend.h DeferredAnswer):
# backends holding a call for a later answer, the decision pool, and a plugin whose decision
# waits, over every backend.
add_library(hijack_test_gate_plugin MODULE ${CMAKE_CURRENT_LIST_DIR}/pending_plugins/gate_plugin.c)
target_include_directories(hijack_test_gate_plugin PRIVATE ${PROJECT_SOURCE_DIR}/include)
set_target_properties(hijack_test_gate_plugin PROPERTIES C_VISIBILITY_PRESET hidden)

add_executable(hijack_pending_tests ${CMAKE_CURRENT_LIST_DIR}/pending_test.cc)
target_link_libraries(hijack_pending_tests PRIVATE hijack_core GTest::gtest_main)
target_compile_definitions(hijack_pending_tests PRIVATE
  HIJACK_TEST_GUEST="$<TARGET_FILE:syscall_guest>"
  HIJACK_TEST_GATE_PLUGIN="$<TARGET_FILE:hijack_test_gate_plugin>")
add_dependencies(hijack_pending_tests syscall_guest hijack_policy_host hijack_test_gate_plugin)
gtest_discover_tests(hijack_pending_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
