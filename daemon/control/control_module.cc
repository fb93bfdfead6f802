// The entry of libhijack-control.so (control_plane.h): what hijackd calls after dlopen(3).
#include "daemon/control/control_plane.h"
#include "daemon/control/serve_command.h"

extern "C" __attribute__((visibility("default"))) const hijack::control::ControlPlane*
hijack_control_plane() {
  static const hijack::control::ControlPlane plane{
      .abi = hijack::control::kControlPlaneAbi,
      .run_serve = &hijack::control::RunServe,
      .serve_run_control = &hijack::control::ServeRunControl,
  };
  return &plane;
}
