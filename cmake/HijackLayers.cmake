# The layering of Hijack, kept by the build (docs/ARCHITECTURE.md draws it).
#
# Every directory that is a part (a library or a program) says so with hijack_layer(TARGET) next
# to its add_library/add_executable; its target_link_libraries edges are its allowed
# dependencies. After all parts are defined, hijack_write_layer_table() writes the graph to
# ${PROJECT_BINARY_DIR}/layers.txt, one line per part:
#
#   hijack_policy|daemon/policy|hijack_common;hijack_syscalls
#
# and cmake/check_layers.cmake (run by the hijack_layering target of every build and by the
# Layering.* tests) refuses two things: a file that includes a header of a directory its part
# does not link directly (`#include "daemon/run/run_command.h"` in daemon/control/ without
# hijack_control -> hijack_run), and a cycle among the parts. The public API (include/hijack/,
# included as "hijack/...") is open to every part.

# hijack_layer(TARGET [INCLUDES_AS DIR]): TARGET is the part whose files are the headers and
# sources directly in the current source directory (not its subdirectories). INCLUDES_AS names
# the directory its headers are included from when that is not the source directory (the
# generated control API: "hijack/v1").
function(hijack_layer target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "INCLUDES_AS" "")
  file(RELATIVE_PATH dir ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  if(arg_INCLUDES_AS)
    set(dir ${arg_INCLUDES_AS})
  endif()
  set_property(GLOBAL APPEND PROPERTY HIJACK_LAYERS ${target})
  set_property(GLOBAL PROPERTY HIJACK_LAYER_DIR_${target} ${dir})
endfunction()

# Writes layers.txt from the link edges of every hijack_layer target.
function(hijack_write_layer_table)
  get_property(layers GLOBAL PROPERTY HIJACK_LAYERS)
  set(table "")
  foreach(target IN LISTS layers)
    get_property(dir GLOBAL PROPERTY HIJACK_LAYER_DIR_${target})
    get_target_property(type ${target} TYPE)
    set(links "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${target} LINK_LIBRARIES)
      if(direct)
        list(APPEND links ${direct})
      endif()
    endif()
    get_target_property(iface ${target} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND links ${iface})
    endif()
    set(deps "")
    foreach(link IN LISTS links)
      # PRIVATE edges of static libraries appear as $<LINK_ONLY:x> in the interface.
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" link "${link}")
      if(link IN_LIST layers AND NOT link IN_LIST deps)
        list(APPEND deps ${link})
      endif()
    endforeach()
    list(SORT deps)
    string(APPEND table "${target}|${dir}|${deps}\n")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/layers.txt "${table}")
endfunction()
