# Cost of the kernel floor (Landlock) per open and per connect, against the same policy without
# it and against native, in one run.
add_executable(hijack_bench_landlock_cost ${CMAKE_CURRENT_LIST_DIR}/landlock_cost.cc)
target_link_libraries(hijack_bench_landlock_cost PRIVATE hijack_core benchmark::benchmark)
