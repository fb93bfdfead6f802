# hijack-policy-host: the helper process third-party plugins run in (see include/hijack/plugin.h).
# It links nothing of hijack_core: a plugin's crash or symbols cannot reach the daemon.
add_executable(hijack_policy_host ${CMAKE_CURRENT_LIST_DIR}/policy_host_main.cc)
set_target_properties(hijack_policy_host PROPERTIES OUTPUT_NAME hijack-policy-host)
target_link_libraries(hijack_policy_host PRIVATE hijack_flags ${CMAKE_DL_LIBS})
install(TARGETS hijack_policy_host)
# hijackd finds the helper next to itself; tests and benchmarks elsewhere use the build path.
add_dependencies(hijack_core hijack_policy_host)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/../modules/plugin/policy_host_client.cc
  PROPERTIES COMPILE_DEFINITIONS "HIJACK_POLICY_HOST_BUILD_PATH=\"$<TARGET_FILE:hijack_policy_host>\"")
