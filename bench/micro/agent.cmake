# The agent's fast path against native, notify and ptrace (bench/micro/agent_write_cost.cc).
add_executable(hijack_bench_agent_write_cost ${CMAKE_CURRENT_LIST_DIR}/agent_write_cost.cc)
target_link_libraries(hijack_bench_agent_write_cost PRIVATE hijack_core benchmark::benchmark)
add_dependencies(hijack_bench_agent_write_cost hijack_agent)
