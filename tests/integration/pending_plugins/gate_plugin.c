/* gate_plugin: a plugin whose decision of one call waits until the test lets it go.
 *
 *   "config": {"syscall": "getppid", "entered": "/tmp/d/entered", "gate": "/tmp/d/gate"}
 *
 * For each call of `syscall`, decide() writes one byte to the FIFO `entered` (the test holds its
 * read end open, so this never blocks and tells the test the decision has begun), then opens the
 * FIFO `gate` for reading, which blocks until the test opens it for writing, and reads one byte:
 * 'f' fails the call with EPERM, anything else (or end of file) lets it continue. Other calls get
 * no verdict. The test therefore knows exactly when a decision is held, with no clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/modules/plugin/example/plugin_util.h"
#include "hijack/plugin.h"

struct gate {
  char syscall_name[32];
  char entered[512];
  char gate[512];
};

static void* create(const char* config_json, char* err, size_t errlen) {
  struct gate* g = calloc(1, sizeof *g);
  if (g == NULL) {
    return plugin_refuse(NULL, err, errlen, "out of memory");
  }
  if (plugin_config_string(config_json, "syscall", g->syscall_name, sizeof g->syscall_name) != 0 ||
      plugin_config_string(config_json, "entered", g->entered, sizeof g->entered) != 0 ||
      plugin_config_string(config_json, "gate", g->gate, sizeof g->gate) != 0) {
    return plugin_refuse(g, err, errlen,
                         "\"syscall\", \"entered\" and \"gate\" are required strings");
  }
  return g;
}

static void destroy(void* instance) { free(instance); }

static int describe(void* instance, char* out, size_t outlen) {
  return plugin_describe_one(((struct gate*)instance)->syscall_name, out, outlen);
}

static int decide(void* instance, const struct hijack_call_v1* call,
                  struct hijack_verdict_v1* verdict) {
  struct gate* g = instance;
  verdict->kind = HIJACK_VERDICT_NONE;
  if (strcmp(call->syscall_name, g->syscall_name) != 0) {
    return 0;
  }
  int entered = open(g->entered, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (entered < 0 || write(entered, "e", 1) != 1) {
    return -1;
  }
  close(entered);
  int fd = open(g->gate, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  char byte = 'c';
  ssize_t n;
  while ((n = read(fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  close(fd);
  if (n == 1 && byte == 'f') {
    verdict->kind = HIJACK_VERDICT_FAIL;
    verdict->error = EPERM;
  } else {
    verdict->kind = HIJACK_VERDICT_CONTINUE;
  }
  return 0;
}

HIJACK_PLUGIN_V1("gate", create, destroy, describe, decide, plugin_observe_nothing,
                 plugin_no_stats)
