# ratelimit: token buckets with priorities.
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/ratelimit_module.cc)
