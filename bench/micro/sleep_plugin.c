/* sleep_plugin: a plugin whose every decision of one syscall takes `sleep_ms`, then continues.
 * It stands for a slow policy service (a remote lookup, a database) in the decision-pool
 * benchmark (pending_neighbour.cc):
 *
 *   "config": {"syscall": "getppid", "sleep_ms": 20}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/modules/plugin/example/plugin_util.h"
#include "hijack/plugin.h"

struct sleeper {
  char syscall_name[32];
  long sleep_ms;
};

static void* create(const char* config_json, char* err, size_t errlen) {
  struct sleeper* s = calloc(1, sizeof *s);
  if (s == NULL ||
      plugin_config_string(config_json, "syscall", s->syscall_name, sizeof s->syscall_name) != 0 ||
      (s->sleep_ms = plugin_config_int(config_json, "sleep_ms", -1)) < 0) {
    return plugin_refuse(s, err, errlen,
                         "\"syscall\" (a short string) and \"sleep_ms\" (a number) are required");
  }
  return s;
}

static void destroy(void* instance) { free(instance); }

static int describe(void* instance, char* out, size_t outlen) {
  return plugin_describe_one(((struct sleeper*)instance)->syscall_name, out, outlen);
}

static int decide(void* instance, const struct hijack_call_v1* call,
                  struct hijack_verdict_v1* verdict) {
  struct sleeper* s = instance;
  (void)call;
  struct timespec ts = {s->sleep_ms / 1000, (s->sleep_ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
  verdict->kind = HIJACK_VERDICT_CONTINUE;
  return 0;
}

HIJACK_PLUGIN_V1("sleep", create, destroy, describe, decide, plugin_observe_nothing,
                 plugin_no_stats)
