# The manual pages and shell completions, generated at build time by the programs themselves
# (`hijackd man`, `hijackd man policy`, `hijackctl man`, `... completion bash|zsh`; see
# common/cli_docs.h and daemon/policy/policy_manual.h) into ${PROJECT_BINARY_DIR}/man, and their
# install rules. Generated rather than written, so that no option, command, module or setting
# can be missing from them.
include(GNUInstallDirs)

# Where the completions go; a distribution package may point them elsewhere (Debian's zsh reads
# ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions).
set(HIJACK_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
    CACHE STRING "where `cmake --install` puts the bash completions")
set(HIJACK_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/site-functions"
    CACHE STRING "where `cmake --install` puts the zsh completions")

set(hijack_man_dir ${PROJECT_BINARY_DIR}/man)
set(hijack_manual_outputs "")

# hijack_generate(OUTPUT TARGET ARGS...): OUTPUT is what `TARGET ARGS...` prints.
function(hijack_generate output target)
  add_custom_command(
    OUTPUT ${hijack_man_dir}/${output}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${hijack_man_dir}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${target}> "-DARGS=${ARGN}"
            -DOUTPUT=${hijack_man_dir}/${output} -P ${PROJECT_SOURCE_DIR}/cmake/run_to_file.cmake
    DEPENDS ${target} ${PROJECT_SOURCE_DIR}/cmake/run_to_file.cmake
    COMMENT "Generating ${output}"
    VERBATIM)
  set(hijack_manual_outputs ${hijack_manual_outputs} ${hijack_man_dir}/${output} PARENT_SCOPE)
endfunction()

hijack_generate(hijackd.8 hijackd man)
hijack_generate(hijack-policy.5 hijackd man policy)
hijack_generate(hijackctl.1 hijackctl man)
hijack_generate(hijackd.bash hijackd completion bash)
hijack_generate(hijackctl.bash hijackctl completion bash)
hijack_generate(_hijackd hijackd completion zsh)
hijack_generate(_hijackctl hijackctl completion zsh)
add_custom_target(hijack_manuals ALL DEPENDS ${hijack_manual_outputs})

install(FILES ${hijack_man_dir}/hijackctl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${hijack_man_dir}/hijack-policy.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${hijack_man_dir}/hijackd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${hijack_man_dir}/hijackd.bash DESTINATION ${HIJACK_BASH_COMPLETION_DIR}
        RENAME hijackd)
install(FILES ${hijack_man_dir}/hijackctl.bash DESTINATION ${HIJACK_BASH_COMPLETION_DIR}
        RENAME hijackctl)
install(FILES ${hijack_man_dir}/_hijackd ${hijack_man_dir}/_hijackctl
        DESTINATION ${HIJACK_ZSH_COMPLETION_DIR})
