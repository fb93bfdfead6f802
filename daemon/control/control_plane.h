// The control plane (the gRPC service, `hijackd serve`, `hijackd run --listen`) as a library
// that hijackd loads only when a command serves the API: libhijack-control.so. gRPC, protobuf and
// abseil are some sixty shared libraries whose relocation alone costs more than a short guest's
// whole run, so `hijackd run` without --listen, `check` and `modules` never map them.
//
//   HIJACK_ASSIGN_OR_RETURN(const ControlPlane* plane, LoadControlPlane());
//   return plane->run_serve(serve_options);
//
// The library holds only the objects of daemon/control (hijack_control) and the generated API
// (hijack_proto); everything else it calls (the supervisor, the backends, the modules) it takes
// from hijackd itself, which exports its symbols and contains every part whole
// (daemon/CMakeLists.txt), so there is one supervisor, one module registry and one copy of each
// part's state in the process. A library built from another tree is refused by its ABI number.
//
// Where it is looked for (install_layout.h): <bindir>/../lib/hijack/libhijack-control.so, and the
// build tree's only for a hijackd that runs from its build tree.
//
// Threads: LoadControlPlane from any thread; it loads once (dlopen(3) is idempotent).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "daemon/control/server_options.h"
#include "hijack/result.h"

namespace hijack::supervisor {
class Supervisor;
}

namespace hijack::control {

// Bumped when ControlPlane, ServeOptions or ControlServerOptions change.
inline constexpr uint32_t kControlPlaneAbi = 1;

inline constexpr const char* kControlPlaneLibraryName = "libhijack-control.so";

// The symbol the library exports: extern "C" const ControlPlane* hijack_control_plane(void).
inline constexpr const char* kControlPlaneSymbol = "hijack_control_plane";

struct ControlPlane {
  uint32_t abi;  // kControlPlaneAbi of the library's build
  // `hijackd serve` (serve_command.h): hijackd's exit status.
  int (*run_serve)(const ServeOptions& options);
  // `hijackd run --listen` (serve_command.h): the function that stops the API.
  Result<std::function<void()>> (*serve_run_control)(const ControlServerOptions& options,
                                                     supervisor::Supervisor& supervisor);
};

// Where LoadControlPlane looks (see above).
std::string ControlPlaneLibrary();

// Loads the library (RTLD_NOW: a symbol missing from hijackd fails here, not mid-call).
// Errors name the path and dlerror(3), or the two ABI numbers.
Result<const ControlPlane*> LoadControlPlane();

}  // namespace hijack::control
