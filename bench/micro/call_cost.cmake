# Per-call cycles (median, p99) of one write() in every mode, driven by bench/run.
add_executable(hijack_bench_call_cost ${CMAKE_CURRENT_LIST_DIR}/call_cost.cc)
