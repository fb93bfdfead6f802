# exec_guard: executables allowed by resolved path, argv log.
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/exec_guard_module.cc)
