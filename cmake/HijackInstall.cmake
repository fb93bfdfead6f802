# What `cmake --install` puts where, and the Debian package built from the same rules (CPack).
#
#   cmake --install build/release --prefix /opt/hijack        # any prefix; movable afterwards
#   cmake --build build/release --target package              # build/release/hijack_<v>_amd64.deb
#
# Layout, relative to the prefix (the variables are set in the top-level CMakeLists.txt so the
# parts' own install() rules use them too):
#   bin/hijackd, bin/hijackctl                         CMAKE_INSTALL_BINDIR
#   lib/hijack/libhijack-agent.so, hijack-policy-host  HIJACK_INSTALL_PKGLIBDIR: found by an
#   lib/hijack/libhijack_example_plugin.so             installed hijackd relative to its own
#                                                      binary (common/install_layout.h)
#   share/hijack/policies/*.json                       HIJACK_INSTALL_POLICYDIR
#   share/doc/hijack/                                  CMAKE_INSTALL_DOCDIR
#   include/hijack/plugin.h                            for third-party plugins
#   share/man/man{1,5,8}/                              CMAKE_INSTALL_MANDIR
#   share/bash-completion/completions/, share/zsh/vendor-completions/
#                                                      HIJACK_INSTALL_{BASH,ZSH}_COMPLETIONDIR
#   lib/systemd/system/hijackd.{service,socket}        /lib/systemd/system when the prefix is
#                                                      /usr (Debian 12's systemdsystemunitdir)
#
# Files that name installed paths (plugin.json, hijackd.service) are written at install time from
# the prefix of that install, so `cmake --install --prefix X` and the package (prefix /usr, staged
# through DESTDIR) each get their own paths.

install(TARGETS hijack_example_plugin LIBRARY DESTINATION ${HIJACK_INSTALL_PKGLIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/hijack/plugin.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hijack)

file(GLOB hijack_policies CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/policies/*.json)
list(REMOVE_ITEM hijack_policies ${PROJECT_SOURCE_DIR}/policies/plugin.json)
install(FILES ${hijack_policies} ${PROJECT_SOURCE_DIR}/policies/README.md
        DESTINATION ${HIJACK_INSTALL_POLICYDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md
              ${PROJECT_SOURCE_DIR}/docs/SECURITY.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Install-time files. The code runs in cmake_install.cmake, where CMAKE_INSTALL_PREFIX is the
# prefix of this install (--prefix, or /usr for the package) and DESTDIR the staging root.
install(CODE "
  set(hijack_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(HIJACKD \"\${hijack_prefix}/${CMAKE_INSTALL_BINDIR}/hijackd\")
  set(HIJACK_EXAMPLE_PLUGIN
      \"\${hijack_prefix}/${HIJACK_INSTALL_PKGLIBDIR}/$<TARGET_FILE_NAME:hijack_example_plugin>\")
  # The example policy names the example plugin where this install put it.
  file(READ \"${PROJECT_SOURCE_DIR}/policies/plugin.json\" hijack_plugin_policy)
  string(REGEX REPLACE \"\\\"path\\\": \\\"[^\\\"]*\\\"\"
         \"\\\"path\\\": \\\"\${HIJACK_EXAMPLE_PLUGIN}\\\"\" hijack_plugin_policy
         \"\${hijack_plugin_policy}\")
  set(hijack_policy_out \"\$ENV{DESTDIR}\${hijack_prefix}/${HIJACK_INSTALL_POLICYDIR}/plugin.json\")
  message(STATUS \"Installing: \${hijack_policy_out}\")
  file(WRITE \"\${hijack_policy_out}\" \"\${hijack_plugin_policy}\")
  # Debian 12's systemd unit directory is /lib/systemd/system (pkg-config systemd); any other
  # prefix keeps its units inside itself.
  if(hijack_prefix STREQUAL \"/usr\")
    set(hijack_unitdir \"/lib/systemd/system\")
  else()
    set(hijack_unitdir \"\${hijack_prefix}/lib/systemd/system\")
  endif()
  message(STATUS \"Installing: \$ENV{DESTDIR}\${hijack_unitdir}/hijackd.service\")
  configure_file(\"${PROJECT_SOURCE_DIR}/packaging/systemd/hijackd.service.in\"
                 \"\$ENV{DESTDIR}\${hijack_unitdir}/hijackd.service\" @ONLY)
  message(STATUS \"Installing: \$ENV{DESTDIR}\${hijack_unitdir}/hijackd.socket\")
  file(COPY \"${PROJECT_SOURCE_DIR}/packaging/systemd/hijackd.socket\"
       DESTINATION \"\$ENV{DESTDIR}\${hijack_unitdir}\")
")

# The Debian package: `cmake --build build/release --target package` (or scripts/package).
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "hijack")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "The Hijack authors")
set(CPACK_PACKAGE_CONTACT "Hijack maintainers <hijack@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "supervisor that takes control of unmodified programs' system calls")
set(CPACK_PACKAGE_DESCRIPTION
    "hijackd launches programs under a seccomp filter (user notification or ptrace), lets policy\n\
modules decide each intercepted system call, and is steered live over a gRPC API (hijackctl).\n\
An LD_PRELOAD agent counts and shapes calls inside the guest without a round trip.")
set(CPACK_PACKAGE_FILE_NAME "hijack_${PROJECT_VERSION}_amd64")
# Installed as /usr, staged through DESTDIR: the install-time files above then name /usr paths,
# and the units may go to /lib/systemd/system outside the prefix.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "amd64")
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Depends: from the binaries' shared libraries (dpkg-shlibdeps, package dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Stripped, as Debian ships binaries (the build tree keeps the debugging information): the
# package is then about a tenth of the size and quicker to build.
set(CPACK_STRIP_FILES ON)
include(CPack)
