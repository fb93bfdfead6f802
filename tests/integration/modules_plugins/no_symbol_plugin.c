/* A shared object that is not a hijack plugin: it exports no hijack_plugin_v1. */
__attribute__((visibility("default"))) int not_a_plugin(void) { return 42; }
