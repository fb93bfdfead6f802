# net_guard: socket address rules on connect, bind and sends.
target_sources(hijack_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/address_rule.cc
  ${CMAKE_CURRENT_LIST_DIR}/net_guard_module.cc
)
