#include "daemon/control/control_plane.h"

#include <dlfcn.h>
#include <unistd.h>

#include "common/install_layout.h"

namespace hijack::control {

std::string ControlPlaneLibrary() {
  auto installed = install_layout::BesideInstalledBinary(kControlPlaneLibraryName);
  if (installed && access(installed->c_str(), R_OK) == 0) {
    return installed->string();
  }
#ifdef HIJACK_CONTROL_BUILD_PATH
  // The build tree's, only for a hijackd that runs from it: an installed hijackd never loads a
  // library left in the tree it was built in.
  if (install_layout::RunningFromBuildTree()) {
    return HIJACK_CONTROL_BUILD_PATH;
  }
#endif
  // Absent: loading it fails and names this path.
  return installed ? installed->string() : std::string(kControlPlaneLibraryName);
}

Result<const ControlPlane*> LoadControlPlane() {
  const std::string path = ControlPlaneLibrary();
  // RTLD_LOCAL: nothing loaded later resolves against gRPC through it; the library itself still
  // binds to hijackd's exported parts, which come first in every lookup (dlopen(3)).
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return std::unexpected(Error{ENOENT, "loading the control plane " + path + ": " +
                                             (why != nullptr ? why : "dlopen failed")});
  }
  using Entry = const ControlPlane* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, kControlPlaneSymbol));
  if (entry == nullptr) {
    return std::unexpected(
        Error{ENOEXEC, "the control plane " + path + " has no " + kControlPlaneSymbol});
  }
  const ControlPlane* plane = entry();
  if (plane == nullptr || plane->abi != kControlPlaneAbi) {
    return std::unexpected(Error{
        ENOEXEC, "the control plane " + path + " has ABI " +
                     std::to_string(plane != nullptr ? plane->abi : 0) + ", this hijackd needs " +
                     std::to_string(kControlPlaneAbi) + " (a library of another build)"});
  }
  return plane;  // never unloaded: its threads and handlers live as long as hijackd
}

}  // namespace hijack::control
