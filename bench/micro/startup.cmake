# Wall time of whole short runs per mode, interleaved (bench/startup).
add_executable(hijack_bench_startup ${CMAKE_CURRENT_LIST_DIR}/startup_time.cc)
target_link_libraries(hijack_bench_startup PRIVATE hijack_flags)
