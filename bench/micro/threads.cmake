# The guest of bench/threads: many threads hammering pipes and a shared mutex.
add_executable(hijack_bench_threads ${CMAKE_CURRENT_LIST_DIR}/threads_guest.cc)
target_link_libraries(hijack_bench_threads PRIVATE hijack_flags Threads::Threads)
