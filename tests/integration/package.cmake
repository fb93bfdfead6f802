# The installed product (package_test.cc): cmake --install into a moved prefix, the .deb in a
# scratch root, socket activation of `hijackd serve`, systemd-analyze on the units.
add_executable(package_guest ${CMAKE_CURRENT_LIST_DIR}/../guests/package_guest.cc)

add_executable(hijack_package_tests ${CMAKE_CURRENT_LIST_DIR}/package_test.cc)
target_link_libraries(hijack_package_tests PRIVATE hijack_test_support GTest::gtest_main)
target_compile_definitions(hijack_package_tests PRIVATE
  HIJACK_TEST_BUILD_DIR="${PROJECT_BINARY_DIR}"
  HIJACK_TEST_HIJACKD="$<TARGET_FILE:hijackd>"
  HIJACK_TEST_HIJACKCTL="$<TARGET_FILE:hijackctl>"
  HIJACK_TEST_PACKAGE_GUEST="$<TARGET_FILE:package_guest>"
  HIJACK_TEST_VERSION="${PROJECT_VERSION}"
  HIJACK_TEST_CMAKE="${CMAKE_COMMAND}"
  HIJACK_TEST_CPACK="${CMAKE_CPACK_COMMAND}")
# Everything the install rules install must be built before the test installs it.
add_dependencies(hijack_package_tests hijackd hijackctl hijack_agent hijack_policy_host
                 hijack_example_plugin package_guest)
gtest_discover_tests(hijack_package_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
