/* flood_plugin: a plugin whose policy host floods hijackd with messages nobody asked for.
 *
 *   "config": {"syscall": "getppid"}
 *
 * create() starts a thread that sends, without end and as fast as the socket takes them,
 * messages in the policy host's protocol (daemon/plugin_host/host_protocol.h) on the host's
 * socket to hijackd: verdicts and stats answers for a request number hijackd never used,
 * observe-typed messages (a direction hijackd never reads), 60 KiB datagrams and datagrams
 * shorter than a header. decide() itself answers honestly: `syscall` fails with EDOM, any other
 * call gets no verdict. So a guest checks one answer whichever way hijackd got it (this
 * plugin's verdict, or an on_failure of EDOM when the flood kept the verdict from arriving in
 * time), and the test sees whether the flood made hijackd hang, grow or answer wrongly.
 *
 * The socket is the host's one descriptor that its command line names (hijack-policy-host FD);
 * a plugin runs inside the host, so it can always reach it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/modules/plugin/example/plugin_util.h"
#include "hijack/plugin.h"

/* host_protocol.h's MessageHeader and MessageType, as C. */
struct wire_header {
  uint32_t type;
  uint32_t seq;
  uint32_t protocol;
  int32_t status;
};
enum { kVerdict = 4, kObserve = 5, kStatsText = 7 };
enum { kUnusedSeq = 0 }; /* hijackd numbers its requests from 1 */

struct flood {
  char syscall_name[32];
  int socket;
};

/* argv[1] of this process, from /proc/self/cmdline (NUL-separated words). */
static int host_socket(void) {
  FILE* f = fopen("/proc/self/cmdline", "re");
  if (f == NULL) {
    return -1;
  }
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  size_t first = strnlen(buf, n);
  return first + 1 < n ? atoi(buf + first + 1) : -1;
}

static void* flood_main(void* arg) {
  const int fd = ((struct flood*)arg)->socket;
  static char big[60 * 1024];
  struct wire_header h = {kVerdict, kUnusedSeq, 1, 0};
  for (uint64_t i = 0;; ++i) {
    const char* data = (const char*)&h;
    size_t len = sizeof h;
    switch (i % 4) {
      case 0: /* a verdict, header and a verdict-sized body of garbage */
        h.type = kVerdict;
        memset(big, 0x5a, 32);
        memcpy(big, &h, sizeof h);
        data = big;
        len = sizeof h + 32;
        break;
      case 1: /* a 60 KiB stats answer */
        h.type = kStatsText;
        memset(big, '{', sizeof big);
        memcpy(big, &h, sizeof h);
        data = big;
        len = sizeof big;
        break;
      case 2: /* an observe-typed message */
        h.type = kObserve;
        break;
      default: /* shorter than a header */
        len = 3;
        break;
    }
    if (send(fd, data, len, MSG_NOSIGNAL) < 0 && errno != EINTR) {
      return NULL; /* hijackd closed the socket: the host is ending */
    }
  }
}

static void* create(const char* config_json, char* err, size_t errlen) {
  struct flood* f = calloc(1, sizeof *f);
  if (f == NULL) {
    return plugin_refuse(NULL, err, errlen, "out of memory");
  }
  if (plugin_config_string(config_json, "syscall", f->syscall_name, sizeof f->syscall_name) !=
      0) {
    return plugin_refuse(f, err, errlen, "\"syscall\" is a required string");
  }
  f->socket = host_socket();
  if (f->socket < 0) {
    return plugin_refuse(f, err, errlen, "cannot find the policy host's socket");
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, flood_main, f) != 0) {
    return plugin_refuse(f, err, errlen, "pthread_create failed");
  }
  pthread_detach(thread);
  return f;
}

/* The flooding thread still uses the instance: it is left to the process's end. */
static void destroy(void* instance) { (void)instance; }

static int describe(void* instance, char* out, size_t outlen) {
  return plugin_describe_one(((struct flood*)instance)->syscall_name, out, outlen);
}

static int decide(void* instance, const struct hijack_call_v1* call,
                  struct hijack_verdict_v1* verdict) {
  struct flood* f = instance;
  verdict->kind = HIJACK_VERDICT_NONE;
  if (strcmp(call->syscall_name, f->syscall_name) == 0) {
    verdict->kind = HIJACK_VERDICT_FAIL;
    verdict->error = EDOM;
  }
  return 0;
}

HIJACK_PLUGIN_V1("flood", create, destroy, describe, decide, plugin_observe_nothing,
                 plugin_no_stats)
