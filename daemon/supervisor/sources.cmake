# The multi-guest registry shared by `hijackd run` and `hijackd serve`.
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/supervisor.cc)
# The always-on protection of the supervisor against its guests (guest_guard.h).
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/guest_guard.cc)
