# End-to-end tests of the control API: hijackd serve / run --listen, hijackctl, lighttpd.
# A client in another language, generated from the .proto alone (Debian: python3-grpcio).
hijack_e2e_test(hijack_e2e_control_tests SOURCE control_test.cc NEEDS hijack_agent PYTHON_CLIENT)
