/* example_plugin: a template for third-party hijack policy modules, in plain C.
 *
 * It fails the system calls named in its config with an errno, and counts what it saw:
 *
 *   {"module": "plugin", "path": ".../libhijack_example_plugin.so",
 *    "config": {"deny": ["getppid", "ptrace"], "errno": 1}, "on_failure": "deny"}
 *
 * Copy this directory, rename the target, and change decide(). Only include/hijack/plugin.h and
 * plugin_util.h here are needed to build it; see CMakeLists.txt here. The config arrives as JSON
 * text; this example reads it with plugin_util.h's few lines of string scanning to stay
 * dependency-free; a real plugin would use a JSON library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hijack/plugin.h"
#include "plugin_util.h"

#define MAX_DENIED 32
#define NAME_LEN 32

struct example {
  char denied[MAX_DENIED][NAME_LEN];
  int n_denied;
  int err;
  unsigned long long decided, failed, observed;
};

static void* create(const char* config_json, char* err, size_t errlen) {
  struct example* e = calloc(1, sizeof *e);
  if (e == NULL) {
    return plugin_refuse(NULL, err, errlen, "out of memory");
  }
  e->n_denied = plugin_config_strings(config_json, "deny", &e->denied[0][0], MAX_DENIED, NAME_LEN);
  if (e->n_denied < 0) {
    return plugin_refuse(e, err, errlen, "\"deny\" must be a list of at most %d syscall names",
                         MAX_DENIED);
  }
  e->err = plugin_config_int(config_json, "errno", EPERM);
  if (e->err < 1 || e->err > 4095) {
    return plugin_refuse(e, err, errlen, "\"errno\" must be a number in 1..4095");
  }
  return e;
}

static void destroy(void* instance) { free(instance); }

static int describe(void* instance, char* out, size_t outlen) {
  struct example* e = instance;
  char list[MAX_DENIED * (NAME_LEN + 3) + 1] = "";
  for (int i = 0; i < e->n_denied; ++i) {
    strcat(list, i == 0 ? "\"" : ",\"");
    strcat(list, e->denied[i]);
    strcat(list, "\"");
  }
  return snprintf(out, outlen,
                  "{\"syscalls\": [%s], \"wants_arguments\": false, "
                  "\"summary\": \"fails the listed calls with errno %d\"}",
                  list, e->err);
}

static int decide(void* instance, const struct hijack_call_v1* call,
                  struct hijack_verdict_v1* verdict) {
  struct example* e = instance;
  ++e->decided;
  for (int i = 0; i < e->n_denied; ++i) {
    if (strcmp(call->syscall_name, e->denied[i]) == 0) {
      ++e->failed;
      verdict->kind = HIJACK_VERDICT_FAIL;
      verdict->error = e->err;
      return 0;
    }
  }
  verdict->kind = HIJACK_VERDICT_NONE;
  return 0;
}

static void observe(void* instance, const struct hijack_call_v1* call,
                    const struct hijack_outcome_v1* outcome) {
  (void)call;
  (void)outcome;
  ++((struct example*)instance)->observed;
}

static int stats(void* instance, char* out, size_t outlen) {
  struct example* e = instance;
  return snprintf(out, outlen, "{\"decided\": %llu, \"failed\": %llu, \"observed\": %llu}",
                  e->decided, e->failed, e->observed);
}

/* The symbol hijack looks up: the ABI version, the name and the entry points above. */
HIJACK_PLUGIN_V1("example", create, destroy, describe, decide, observe, stats)
