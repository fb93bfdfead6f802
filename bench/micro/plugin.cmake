# The out-of-process plugin hop against an in-process call (daemon/modules/plugin).
add_executable(hijack_bench_plugin_hop ${CMAKE_CURRENT_LIST_DIR}/plugin_hop.cc)
target_link_libraries(hijack_bench_plugin_hop PRIVATE hijack_core benchmark::benchmark
                      ${CMAKE_DL_LIBS})
target_compile_definitions(hijack_bench_plugin_hop PRIVATE
  HIJACK_BENCH_EXAMPLE_PLUGIN="$<TARGET_FILE:hijack_example_plugin>"
  HIJACK_BENCH_POLICY_HOST="$<TARGET_FILE:hijack_policy_host>")
add_dependencies(hijack_bench_plugin_hop hijack_example_plugin hijack_policy_host)
