# End-to-end tests of `hijackd serve` as a client meets it: relative policy files resolved
# against the client's directory, guest output through `hijackctl logs`, exits told as a shell
# tells them, the API's JSON, and one stats table for `hijackctl stats` and `hijackd run`.
hijack_e2e_test(hijack_e2e_serve_tests SOURCE serve_test.cc NEEDS hijack_agent)
