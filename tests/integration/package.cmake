# The installed product (package_test.cc): cmake --install into a moved prefix, the .deb in a
# scratch root, socket activation of `hijackd serve`, systemd-analyze on the units.
hijack_test_guest(package_guest)

# Everything the install rules install must be built before the test installs it.
hijack_test(hijack_package_tests SOURCES package_test.cc
  LIBS hijack_test_support GTest::gtest_main
  RUNS hijackd hijackctl package_guest
  NEEDS hijack_agent hijack_policy_host hijack_example_plugin
  DEFINES
    HIJACK_TEST_BUILD_DIR="${PROJECT_BINARY_DIR}"
    HIJACK_TEST_VERSION="${PROJECT_VERSION}"
    HIJACK_TEST_CMAKE="${CMAKE_COMMAND}"
    HIJACK_TEST_CPACK="${CMAKE_CPACK_COMMAND}"
  TIMEOUT 300)
