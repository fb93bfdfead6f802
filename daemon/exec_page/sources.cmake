# The daemon's side of the executive page and the agent (daemon/exec_page/*.h).
target_sources(hijack_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/guest_exec_page.cc
  ${CMAKE_CURRENT_LIST_DIR}/agent_launch.cc
  ${CMAKE_CURRENT_LIST_DIR}/agent_path.cc)
# The agent built with this daemon, found without installing (FindAgentLibrary).
set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/agent_launch.cc APPEND PROPERTY COMPILE_DEFINITIONS
             "HIJACK_AGENT_BUILD_PATH=\"${PROJECT_BINARY_DIR}/agent/libhijack-agent.so\"")
