# fs_guard: path rules on file-system calls (and the path helpers exec_guard and fault share).
target_sources(hijack_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/path_pattern.cc
  ${CMAKE_CURRENT_LIST_DIR}/guest_path.cc
  ${CMAKE_CURRENT_LIST_DIR}/guest_credentials.cc
  ${CMAKE_CURRENT_LIST_DIR}/fs_guard_rules.cc
  ${CMAKE_CURRENT_LIST_DIR}/fs_guard_strict.cc
  ${CMAKE_CURRENT_LIST_DIR}/fs_guard_config.cc
  ${CMAKE_CURRENT_LIST_DIR}/fs_guard_module.cc
)
