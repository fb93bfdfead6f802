// hijack-policy-host: runs one third-party policy plugin outside hijackd.
//
//   hijack-policy-host FD        (started by hijackd's PolicyHostClient; FD is its socket)
//
// Loads the plugin named by the first message, answers decide/observe/stats requests in order
// (daemon/plugin_host/host_protocol.h), and exits when hijackd closes the socket or dies. A
// plugin that crashes takes down this process only: hijackd sees the socket close, applies the
// policy's on_failure, and starts a new host.
#include <dlfcn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/plugin_host/host_protocol.h"
#include "hijack/plugin.h"

namespace hijack::plugin_host {
namespace {

struct Loaded {
  const hijack_plugin_v1* plugin = nullptr;
  void* instance = nullptr;
};

bool Send(int fd, MessageHeader header, const void* body, size_t len) {
  std::vector<char> msg(sizeof header + len);
  std::memcpy(msg.data(), &header, sizeof header);
  if (len > 0) {
    std::memcpy(msg.data() + sizeof header, body, len);
  }
  return send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
}

bool SendText(int fd, MessageType type, uint32_t seq, int32_t status, const std::string& text) {
  MessageHeader h{type, seq, kProtocolVersion, status};
  return Send(fd, h, text.c_str(), text.size() + 1);
}

// A JSON document written by one of the plugin's describe()/stats() entry points.
std::string CallText(int (*fn)(void*, char*, size_t), void* instance) {
  std::vector<char> buf(4096);
  int n = fn(instance, buf.data(), buf.size());
  if (n >= 0 && static_cast<size_t>(n) >= buf.size()) {
    buf.resize(static_cast<size_t>(n) + 1);
    n = fn(instance, buf.data(), buf.size());
  }
  if (n < 0 || static_cast<size_t>(n) >= buf.size()) {
    return {};
  }
  return std::string(buf.data(), static_cast<size_t>(n));
}

std::string Load(const char* path, const char* config, Loaded& out) {
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return std::string("cannot be loaded: ") + (why != nullptr ? why : "dlopen failed");
  }
  auto entry = reinterpret_cast<hijack_plugin_v1_fn>(dlsym(handle, HIJACK_PLUGIN_SYMBOL));
  if (entry == nullptr) {
    return "does not export the symbol " HIJACK_PLUGIN_SYMBOL " (not a hijack plugin?)";
  }
  const hijack_plugin_v1* p = entry();
  if (p == nullptr) {
    return HIJACK_PLUGIN_SYMBOL "() returned NULL";
  }
  if (p->abi_version != HIJACK_PLUGIN_ABI_VERSION) {
    return "wrong ABI version " + std::to_string(p->abi_version) + " (this hijackd speaks " +
           std::to_string(HIJACK_PLUGIN_ABI_VERSION) + ")";
  }
  if (p->struct_size < offsetof(hijack_plugin_v1, stats)) {
    return "descriptor too small (" + std::to_string(p->struct_size) + " bytes)";
  }
  const char* missing = p->create == nullptr     ? "create"
                        : p->destroy == nullptr  ? "destroy"
                        : p->describe == nullptr ? "describe"
                        : p->decide == nullptr   ? "decide"
                                                 : nullptr;
  if (missing != nullptr) {
    return std::string("missing entry point ") + missing;
  }
  char err[512] = "";
  void* instance = p->create(config, err, sizeof err);
  if (instance == nullptr) {
    err[sizeof err - 1] = '\0';
    return std::string("create failed: ") + (err[0] != '\0' ? err : "no reason given");
  }
  out.plugin = p;
  out.instance = instance;
  return {};
}

void FillCall(const WireCall& w, const char* name, const char* args, hijack_call_v1& c) {
  c.guest_id = w.guest_id;
  c.pid = w.pid;
  c.tid = w.tid;
  c.nr = w.nr;
  c.arch = w.arch;
  std::memcpy(c.args, w.args, sizeof c.args);
  c.syscall_name = name;
  c.args_json = args;
}

int Serve(int fd) {
  std::vector<char> buf(kMaxMessage);
  Loaded loaded;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n == 0 || (n < 0 && errno != EINTR)) {
      break;  // hijackd closed the socket (or died)
    }
    if (n < static_cast<ssize_t>(sizeof(MessageHeader))) {
      continue;
    }
    MessageHeader h;
    std::memcpy(&h, buf.data(), sizeof h);
    const char* body = buf.data() + sizeof h;
    const size_t body_len = static_cast<size_t>(n) - sizeof h;
    switch (h.type) {
      case MessageType::kLoad: {
        if (h.protocol != kProtocolVersion) {
          SendText(fd, MessageType::kLoaded, h.seq, 1, "policy host speaks another protocol");
          break;
        }
        std::string path(body, strnlen(body, body_len));
        const char* config = body + path.size() + 1;
        std::string why = loaded.plugin != nullptr ? "a plugin is already loaded"
                                                   : Load(path.c_str(), config, loaded);
        if (!why.empty()) {
          SendText(fd, MessageType::kLoaded, h.seq, 1, why);
          break;
        }
        std::string described = CallText(loaded.plugin->describe, loaded.instance);
        if (described.empty()) {
          SendText(fd, MessageType::kLoaded, h.seq, 1, "describe failed");
          break;
        }
        SendText(fd, MessageType::kLoaded, h.seq, 0,
                 std::string(loaded.plugin->name != nullptr ? loaded.plugin->name : "") + '\n' +
                     described);
        break;
      }
      case MessageType::kDecide:
      case MessageType::kObserve: {
        if (loaded.plugin == nullptr || body_len < sizeof(WireCall)) {
          break;
        }
        WireCall w;
        std::memcpy(&w, body, sizeof w);
        if (sizeof w + w.name_len + w.args_len > body_len) {
          break;
        }
        const char* name = body + sizeof w;
        const char* args = w.args_len > 0 ? name + w.name_len : nullptr;
        hijack_call_v1 call{};
        FillCall(w, name, args, call);
        if (h.type == MessageType::kDecide) {
          WireVerdict v{};
          v.rc = loaded.plugin->decide(loaded.instance, &call, &v.verdict);
          MessageHeader r{MessageType::kVerdict, h.seq, kProtocolVersion, 0};
          Send(fd, r, &v, sizeof v);
        } else if (loaded.plugin->observe != nullptr) {
          loaded.plugin->observe(loaded.instance, &call, &w.outcome);
        }
        break;
      }
      case MessageType::kStats: {
        std::string text = "{}";
        if (loaded.plugin != nullptr && loaded.plugin->stats != nullptr &&
            loaded.plugin->struct_size >= sizeof(hijack_plugin_v1)) {
          std::string s = CallText(loaded.plugin->stats, loaded.instance);
          if (!s.empty()) {
            text = s;
          }
        }
        SendText(fd, MessageType::kStatsText, h.seq, 0, text);
        break;
      }
      default:
        break;
    }
  }
  if (loaded.plugin != nullptr) {
    loaded.plugin->destroy(loaded.instance);
  }
  return 0;
}

}  // namespace
}  // namespace hijack::plugin_host

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: hijack-policy-host FD (started by hijackd)\n");
    return 2;
  }
  const pid_t parent = getppid();
  // The host has no reason to outlive the daemon that asks it, nor to gain privileges through
  // anything a plugin might exec.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  // exec made the host dumpable again: without this a guest of the daemon's uid could trace it
  // and answer the daemon's questions about its own calls (ptrace(2), "Ptrace access mode
  // checking"). Fail closed: a host that guests can reach must not serve.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::fprintf(stderr, "hijack-policy-host: prctl(PR_SET_DUMPABLE, 0): %s\n",
                 std::strerror(errno));
    return 1;
  }
  if (getppid() != parent) {
    return 1;
  }
  return hijack::plugin_host::Serve(std::atoi(argv[1]));
}
