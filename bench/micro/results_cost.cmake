# What seeing every result costs under each backend, against native and strace -f
# (results_cost.cc); run as root for the kernel result observer:
#   build/release/bench/hijack_bench_results_cost build/release/daemon/hijackd 20000 5
add_executable(hijack_bench_results_cost ${CMAKE_CURRENT_LIST_DIR}/results_cost.cc)
