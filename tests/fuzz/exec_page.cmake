# libFuzzer target for the daemon's reader of the executive page (exec_page_fuzz.cc). Included
# from tests/fuzz/CMakeLists.txt; built only with -DHIJACK_FUZZ=ON, with a clang whose C++23
# library mode has std::expected (clang 19 on Debian 12; clang 14 has not).
#
# The reader's sources are compiled into the target itself, so that they carry the fuzzer's
# coverage instrumentation whatever flags the rest of the build has.
if(HIJACK_FUZZ)
  add_executable(hijack_exec_page_fuzz
    ${CMAKE_CURRENT_LIST_DIR}/exec_page_fuzz.cc
    ${PROJECT_SOURCE_DIR}/daemon/exec_page/guest_exec_page.cc
    ${PROJECT_SOURCE_DIR}/daemon/syscalls/errno_names.cc)
  target_include_directories(hijack_exec_page_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR})
  target_compile_options(hijack_exec_page_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(hijack_exec_page_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(hijack_exec_page_fuzz PRIVATE fmt::fmt)
endif()
