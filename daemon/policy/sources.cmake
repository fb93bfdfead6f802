# Bounded readers for text from outside (policy files, control requests): the policy loader
# uses them, and so do the fuzz targets (tests/fuzz/).
target_sources(hijack_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/bounded_file.cc
  ${CMAKE_CURRENT_LIST_DIR}/bounded_json.cc)
target_sources(hijack_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/config_reader.cc)
