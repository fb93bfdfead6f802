#include "daemon/run/start_check.h"

#include <glob.h>
#include <limits.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/exec_page/agent_launch.h"
#include "daemon/exec_page/elf_needed.h"
#include "daemon/launcher/landlock_ruleset.h"
#include "daemon/launcher/launcher.h"

namespace hijack::run {
namespace {

// A loader's dependency list is rarely above a hundred; this bounds a hostile or cyclic one.
constexpr size_t kMaxLibraries = 512;
// /etc/ld.so.conf includes nest; ldconfig(8) follows them, a few levels are plenty.
constexpr int kMaxConfDepth = 4;

std::string Real(const std::string& path) {
  char real[PATH_MAX];
  return realpath(path.c_str(), real) != nullptr ? std::string(real) : std::string();
}

std::vector<std::string> Split(const std::string& list, char sep) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, sep);) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

// The directories of an ld.so.conf file: one per line, "include GLOB" lines followed, '#'
// comments (ldconfig(8)).
void ConfDirectories(const std::string& file, int depth, std::vector<std::string>& out) {
  std::ifstream in(file);
  for (std::string line; depth < kMaxConfDepth && std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos) {
      continue;
    }
    line = line.substr(start, line.find_last_not_of(" \t") - start + 1);
    if (line.starts_with("include") && line.size() > 7 && (line[7] == ' ' || line[7] == '\t')) {
      std::string pattern = line.substr(line.find_first_not_of(" \t", 7));
      if (!pattern.starts_with("/")) {
        pattern = file.substr(0, file.rfind('/') + 1) + pattern;
      }
      glob_t found{};
      if (glob(pattern.c_str(), 0, nullptr, &found) == 0) {
        for (size_t i = 0; i < found.gl_pathc; ++i) {
          ConfDirectories(found.gl_pathv[i], depth + 1, out);
        }
      }
      globfree(&found);
    } else if (line.starts_with("/")) {
      out.push_back(line);
    }
  }
}

// Where the loader looks for a library named without a slash (ld.so(8), "Shared object
// dependencies"), in its order; RPATH/RUNPATH are not read.
std::vector<std::string> SearchDirectories() {
  std::vector<std::string> dirs;
  if (const char* lib_path = getenv("LD_LIBRARY_PATH")) {
    dirs = Split(lib_path, ':');
  }
  ConfDirectories("/etc/ld.so.conf", 0, dirs);
  for (const char* d : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
                        "/usr/lib64", "/lib", "/usr/lib"}) {
    dirs.emplace_back(d);
  }
  return dirs;
}

}  // namespace

Result<std::vector<modules::StartFile>> StartFilesOf(const std::vector<std::string>& command,
                                                     const std::string& path_env) {
  if (command.empty()) {
    return std::unexpected(Error{127, "no program given"});
  }
  HIJACK_ASSIGN_OR_RETURN(std::string exe, launcher::ResolveExecutable(command[0], path_env));
  std::vector<modules::StartFile> files;
  const std::string program = Real(exe);
  files.push_back({program.empty() ? exe : program, modules::StartFile::kExec, "the program"});

  const std::vector<std::string> dirs = SearchDirectories();
  std::set<std::string> seen;
  // The interpreter is the loader itself, mapped by the kernel: when a library names it
  // (libc.so.6 needs ld-linux-x86-64.so.2), the loader knows it is loaded and opens nothing.
  for (const std::string& started : launcher::ExecFiles(exe)) {
    if (std::string real = Real(started); !real.empty() && real != files[0].path) {
      seen.insert(real);
    }
  }
  std::deque<std::string> pending = {files[0].path};
  while (!pending.empty() && seen.size() < kMaxLibraries) {
    const std::string object = pending.front();
    pending.pop_front();
    auto needed = exec_page::NeededLibraries(object);
    if (!needed) {
      continue;  // the loader says what it cannot read
    }
    for (const std::string& name : *needed) {
      std::string found;
      if (name.find('/') != std::string::npos) {
        found = Real(name);
      } else {
        for (const std::string& dir : dirs) {
          if (found = Real(dir + "/" + name); !found.empty()) {
            break;
          }
        }
      }
      if (found.empty() || !seen.insert(found).second) {
        continue;
      }
      files.push_back({found, modules::StartFile::kRead, "a library it needs (" + name + ")"});
      pending.push_back(found);
    }
  }
  if (const std::string agent_library =
          exec_page::PreloadableAgentLibrary().value_or(std::string());
      !agent_library.empty()) {
    const std::string agent = Real(agent_library);
    files.push_back({agent.empty() ? agent_library : agent, modules::StartFile::kRead,
                     "hijackd's agent library (preloaded under the notify backend)"});
  }
  return files;
}

}  // namespace hijack::run
