# What making the agent's calls cancellable costs (bench/micro/agent_cancel_cost.cc).
add_executable(hijack_bench_agent_cancel_cost ${CMAKE_CURRENT_LIST_DIR}/agent_cancel_cost.cc)
target_link_libraries(hijack_bench_agent_cancel_cost PRIVATE hijack_core benchmark::benchmark)
add_dependencies(hijack_bench_agent_cancel_cost hijack_agent)
