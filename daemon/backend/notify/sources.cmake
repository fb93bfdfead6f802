# Caller identity for the notify backend (daemon/backend/notify/caller_identity.h).
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/caller_identity.cc)
