# The agent's instruction-pointer exemption for the kernel filter (daemon/launcher/bpf_builder.h).
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/bpf_builder.cc)
# The seccomp listener's way from a starting guest to the supervisor (listener_handover.h).
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/listener_handover.cc)
# Landlock scoping of each guest: signals and abstract unix sockets (landlock_scope.h).
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/landlock_scope.cc)
# The pid namespace whose init ends the guest tree with the supervisor (namespace_init.h).
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/namespace_init.cc)
# The ignored signals and blocked mask hijackd inherited, given back to its guests
# (inherited_signals.h).
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/inherited_signals.cc)
