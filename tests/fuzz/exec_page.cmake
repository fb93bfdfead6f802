# libFuzzer target for the daemon's reader of the executive page (exec_page_fuzz.cc). Included
# from tests/fuzz/CMakeLists.txt; built only with -DHIJACK_FUZZ=ON (clang).
if(HIJACK_FUZZ)
  add_executable(hijack_exec_page_fuzz ${CMAKE_CURRENT_LIST_DIR}/exec_page_fuzz.cc)
  target_compile_options(hijack_exec_page_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(hijack_exec_page_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(hijack_exec_page_fuzz PRIVATE hijack_core)
endif()
