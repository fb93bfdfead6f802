/* A plugin that crashes in decide(): {"crash": "segv" | "abort" | "hang"}. For the isolation
 * tests. */
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "hijack/plugin.h"

struct crashing {
  int abort_instead;
  int hang_instead;
};

static void* create(const char* config_json, char* err, size_t errlen) {
  (void)err;
  (void)errlen;
  struct crashing* c = calloc(1, sizeof *c);
  c->abort_instead = strstr(config_json, "abort") != NULL;
  c->hang_instead = strstr(config_json, "hang") != NULL;
  return c;
}

static void destroy(void* instance) { free(instance); }

static int describe(void* instance, char* out, size_t outlen) {
  (void)instance;
  const char* d = "{\"syscalls\": [\"getppid\"]}";
  size_t n = strlen(d);
  if (n < outlen) {
    memcpy(out, d, n + 1);
  }
  return (int)n;
}

static int decide(void* instance, const struct hijack_call_v1* call,
                  struct hijack_verdict_v1* verdict) {
  (void)call;
  (void)verdict;
  if (((struct crashing*)instance)->abort_instead) {
    abort();
  }
  while (((struct crashing*)instance)->hang_instead) {
    pause();
  }
  volatile int* null = NULL;
  return *null;
}

HIJACK_PLUGIN_EXPORT const struct hijack_plugin_v1* hijack_plugin_v1(void) {
  static const struct hijack_plugin_v1 p = {HIJACK_PLUGIN_ABI_VERSION,
                                            sizeof(struct hijack_plugin_v1),
                                            "crashing",
                                            create,
                                            destroy,
                                            describe,
                                            decide,
                                            NULL,
                                            NULL};
  return &p;
}
