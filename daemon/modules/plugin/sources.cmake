# plugin: third-party modules over the hijack_plugin_v1 C ABI, run in hijack-policy-host.
target_sources(hijack_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/policy_host_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/plugin_module.cc
)
# The example plugin, built like a user's would be (its own CMakeLists.txt).
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/example ${CMAKE_CURRENT_BINARY_DIR}/plugin_example)
