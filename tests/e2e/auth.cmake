# End-to-end tests of who may steer: authenticated TCP listeners (mutual TLS with certificates
# made by the openssl CLI, bearer tokens), the rules for unix callers of a root daemon, guests
# launched with their caller's rights, the audit log, and guests refused on their own socket.
# No protoc, Python or gRPC plugin: only the control tests (control.cmake) generate a client.
hijack_e2e_test(hijack_e2e_auth_tests SOURCE auth_test.cc RUNS hijack_agent)
