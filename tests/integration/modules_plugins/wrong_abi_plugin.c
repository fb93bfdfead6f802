/* A plugin built against a future ABI: abi_version 99. Must be refused. */
#include "hijack/plugin.h"

HIJACK_PLUGIN_EXPORT const struct hijack_plugin_v1* hijack_plugin_v1(void) {
  static const struct hijack_plugin_v1 p = {99, sizeof(struct hijack_plugin_v1), "future",
                                            0,  0,  0,  0,  0,  0};
  return &p;
}
