# The multi-guest registry shared by `hijackd run` and `hijackd serve`.
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/supervisor.cc)
