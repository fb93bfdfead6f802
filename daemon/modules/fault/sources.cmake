# fault: reproducible errno and short-count injection.
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/fault_module.cc)
