# A guest's call rate while another guest's plugin decision sleeps: with the decision pool, and
# with every decision on the loop (SupervisorOptions::decision_workers = 0), the behaviour
# before the pool (daemon/supervisor/decision_pool.h).
add_library(hijack_bench_sleep_plugin MODULE ${CMAKE_CURRENT_LIST_DIR}/sleep_plugin.c)
target_include_directories(hijack_bench_sleep_plugin PRIVATE ${PROJECT_SOURCE_DIR}/include
                           ${PROJECT_SOURCE_DIR})
set_target_properties(hijack_bench_sleep_plugin PROPERTIES C_VISIBILITY_PRESET hidden)

add_executable(hijack_bench_pending ${CMAKE_CURRENT_LIST_DIR}/pending_neighbour.cc)
target_link_libraries(hijack_bench_pending PRIVATE hijack_core benchmark::benchmark)
target_compile_definitions(hijack_bench_pending PRIVATE
  HIJACK_BENCH_SLEEP_PLUGIN="$<TARGET_FILE:hijack_bench_sleep_plugin>")
add_dependencies(hijack_bench_pending hijack_bench_sleep_plugin hijack_policy_host)
