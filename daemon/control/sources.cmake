# The control service (gRPC) lives in its own library so hijack_core, its tests and the
# benchmarks do not link gRPC; only hijackd does.
add_library(hijack_control STATIC
  ${CMAKE_CURRENT_LIST_DIR}/audit_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/control_options.cc
  ${CMAKE_CURRENT_LIST_DIR}/control_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/control_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/decision_kinds.cc
  ${CMAKE_CURRENT_LIST_DIR}/gatekeeper.cc
  ${CMAKE_CURRENT_LIST_DIR}/listen_address.cc
  ${CMAKE_CURRENT_LIST_DIR}/peer_process.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_limits.cc
  ${CMAKE_CURRENT_LIST_DIR}/serve_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/status.cc
  ${CMAKE_CURRENT_LIST_DIR}/unix_listener.cc)
target_link_libraries(hijack_control PUBLIC hijack_core hijack_proto CLI11::CLI11
                      nlohmann_json::nlohmann_json)
target_compile_definitions(hijack_control PRIVATE HIJACK_VERSION="${PROJECT_VERSION}")
# hijackd is defined after the parts are included (daemon/CMakeLists.txt).
cmake_language(DEFER CALL target_link_libraries hijackd PRIVATE hijack_control)
