// KernelFloor: the part of a policy module's rules that the kernel can hold by itself, in
// neutral terms (directory trees with kinds of access, TCP ports), with the rules it cannot.
//
// A module that confines files, executables or TCP ports states its floor
// (PolicyModule::Floor()); the launcher compiles each floor into a Landlock ruleset and
// restricts the guest with it before exec (daemon/launcher/landlock_ruleset.h). The kernel then
// holds the floor for every path to an object (hard links, renames, mounts, handles, io_uring)
// with no race, and the module keeps deciding, logging and emulating on top.
//
//   KernelFloor f;
//   f.fs_handled = kFloorRead | kFloorWrite;            // denied everywhere but beneath trees
//   f.trees.push_back({"/srv/www", kFloorRead, "allow /srv/www/**"});
//   f.module_only.push_back({"deny /srv/www/private/**", "a deny rule inside an allowed tree"});
//
// The one rule of a floor: it is never tighter than the module (it may be looser). Everything a
// module allows lies beneath a tree granting that kind; what it denies inside such a tree is
// the module's alone. Glob patterns are widened to the directory before their first wildcard,
// a file to the directory holding it, a missing path to its nearest existing ancestor.
//
// Threads: a value; built on any thread, copied freely.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hijack {

// Kinds of file-system access, as policies speak of them (fs_guard's "access" names).
enum FloorAccess : uint32_t {
  kFloorRead = 1,     // read files, list directories
  kFloorWrite = 2,    // write and truncate files
  kFloorCreate = 4,   // make files, directories, links, fifos, sockets; rename or link into
  kFloorExec = 8,     // execute (the program and its interpreter)
  kFloorUnlink = 16,  // remove files and directories; rename out of
  kFloorAll = 31,
};

struct KernelFloor {
  // One directory (or file) beneath which `access` is granted; `rule` is the policy rule it
  // comes from, as the module shows it.
  struct Tree {
    std::string path;
    uint32_t access = 0;
    std::string rule;
    bool operator==(const Tree&) const = default;
  };
  // TCP ports (inclusive ranges) an operation may use; `handled` false: every port.
  struct Ports {
    bool handled = false;
    std::vector<std::pair<uint16_t, uint16_t>> ranges;
    bool operator==(const Ports&) const = default;
  };
  // A rule the floor holds, and how ("beneath /srv/www: read").
  struct Held {
    std::string rule;
    std::string how;
  };
  // A rule only the module enforces, and why the kernel cannot hold it.
  struct ModuleOnly {
    std::string rule;
    std::string reason;
  };

  // The module it comes from, as admission names it ("/modules/1 (fs_guard)"); set by the
  // policy, not by the module.
  std::string source;
  // Kinds (FloorAccess) the kernel denies outside `trees`; 0: no file-system floor.
  uint32_t fs_handled = 0;
  std::vector<Tree> trees;
  Ports tcp_bind;
  Ports tcp_connect;
  std::vector<Held> held;
  std::vector<ModuleOnly> module_only;

  bool empty() const { return fs_handled == 0 && !tcp_bind.handled && !tcp_connect.handled; }
};

}  // namespace hijack
