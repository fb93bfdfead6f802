# What `hijackd run` loads at start-up (daemon/control/control_plane.h): no control plane unless
# --listen asks for it; the agent's slots of children that exit (agent/agent.cc); the seccomp
# filter hijackd builds itself, against libseccomp's (daemon/launcher/filter.h).
hijack_test_guest(startup_guest)
hijack_test(hijack_startup_tests SOURCES startup_test.cc
  LIBS hijack_test_support hijack_launcher PkgConfig::SECCOMP GTest::gtest_main
  RUNS hijackd hijack_agent startup_guest TIMEOUT 120)
