// net_guard: allow or deny socket addresses on connect, bind and every send.
//
//   {"module": "net_guard",
//    "connect_allow": ["127.0.0.0/8", "::1", "unix:/run/app/*.sock"],
//    "bind_deny": ["*:1-1023"],
//    "send_allow": [{"address": "127.0.0.53:53", "type": "udp"}],
//    "errno": "EACCES"}
//
// Lists per operation: connect_*, bind_*, send_*. For an address: a match in the *_deny list
// denies; else a match in *_allow allows; else `default` ("deny" when that operation has an
// allow list, even an empty one: "connect_allow": [] allows nothing; "allow" when it has none).
// A missing key is no rule; an operation without any key is not intercepted. Entries are
// AddressRules (family, CIDR v4/v6, port ranges, unix socket paths resolved like fs_guard's,
// @abstract names), optionally with a socket-type selector ("tcp", "udp", ...) read from the
// socket itself (getsockopt SO_DOMAIN/SO_TYPE/SO_PROTOCOL on a copy of the descriptor).
//
// What each operation covers (docs/SECURITY.md, "Network confinement in the modules"):
//   connect  connect(2); sendto/sendmsg/sendmmsg with MSG_FASTOPEN on a stream socket (TCP Fast
//            Open connects to msg_name without connect()). TCP_FASTOPEN_CONNECT defers the SYN
//            to the first write but still names the address in connect(), judged there.
//   bind     bind(2); listen(2) on an unbound AF_INET/AF_INET6 socket, which the kernel binds
//            to the wildcard address on an ephemeral port: judged as bind(0.0.0.0:0) or
//            bind([::]:0). The ephemeral bind of connect(2) and of a first sendto(2) is not a
//            bind for these rules (the connect rules judge where such a socket goes).
//   send     every call that sends (syscalls::SendCalls: write, writev, pwritev2, send, sendto,
//            sendmsg, sendmmsg, sendfile, splice; io_submit's IOCB_CMD_PWRITE/PWRITEV, at most
//            1024 control blocks a call) on a socket, judged by the address it names,
//            else by the socket's peer (getpeername(2)); a connected stream socket is judged by
//            its peer whatever address the call names. Calls on descriptors that are not
//            sockets (fstat(2) on the copy) are not judged.
// "connect": "check" (the default) judges the address and lets the kernel run the call, which
// reads the address again: a guest thread rewriting it in between connects where it wrote
// (Landlock holds TCP ports only). "connect": "emulate" closes that race:
//   AF_INET/AF_INET6  the supervisor connects its copy of the socket to the address it judged and
//                     answers with connect's result (ConnectOnCopy); a sendto/sendmsg with
//                     MSG_FASTOPEN and an address on a TCP socket is made by the supervisor on its
//                     copy, with the address it judged and the data it read (FastOpenOnCopy);
//                     sendmmsg with MSG_FASTOPEN naming an address, and a Fast Open with control
//                     messages or MSG_ZEROCOPY, get EOPNOTSUPP (as where Fast Open is off).
//   other families    (unix, netlink, vsock, ...) judged by the socket's own family and type
//                     (SO_DOMAIN on the copy), never by the address bytes, which the kernel reads
//                     again; a policy whose connect rules name unix paths or abstract names is
//                     refused in this mode: no race-free judge exists for them (a connect made
//                     by the supervisor would hand the server the supervisor's SO_PEERCRED).
// DNS is not net_guard's business: rules name addresses, never host names; a guest that resolves
// names does so through the addresses (a resolver's, 127.0.0.53:53) the rules allow.
// A sockaddr, a socket or a peer that cannot be read denies (fail closed).
//
// Threads: Decide() on the guest's loop thread, an emulated connect's on a decision pool worker
// (several at once: it touches only per-call state and atomic counters); Stats() on any.
#pragma once

#include <atomic>
#include <vector>

#include "daemon/modules/net_guard/address_rule.h"
#include "daemon/modules/net_guard/socket_type.h"
#include "daemon/policy/module_registry.h"
#include "daemon/syscalls/syscall_args.h"

namespace hijack::modules {

class NetGuardModule final : public PolicyModule {
 public:
  enum Op { kConnect = 0, kBind = 1, kSend = 2 };
  enum class ConnectMode { kCheck, kEmulate };
  struct Lists {
    std::vector<AddressRule> allow;
    std::vector<AddressRule> deny;
    bool default_allow = true;
    bool configured = false;  // some key of this operation was given: its calls are judged
    bool needs_kind = false;  // some rule has a socket-type selector (set by the constructor)
  };

  NetGuardModule(std::array<Lists, 3> lists, int err,
                 ConnectMode connect_mode = ConnectMode::kCheck);
  static policy::ModuleInfo Info();
  // The connect_*, bind_* and send_* settings of `config`. Errors name the JSON path.
  [[nodiscard]] static Result<std::array<Lists, 3>> ReadLists(policy::ConfigReader& config);

  std::string_view Name() const override { return "net_guard"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  // An emulated connect waits for the connection on a pool worker.
  bool MayBlock(int nr) const override;
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;
  // net_guard_floor.cc: the TCP ports of connect and bind allow lists.
  KernelFloor Floor() const override;

  // The rules of `op` applied to `addr` on a socket of `kind` (nullptr: unknown, so rules with
  // a socket-type selector do not match).
  bool Allows(Op op, const SocketAddress& addr, const SocketKind* kind = nullptr) const;

 private:
  class CallSocket;
  std::optional<Decision> Judge(Op op, const SocketAddress& addr, CallSocket& sock);
  std::optional<Decision> CheckAddress(const SyscallEvent& ev, GuestMemory& mem, Op op,
                                       syscalls::SockaddrRef ref, CallSocket& sock);
  std::optional<Decision> CheckPeer(CallSocket& sock, bool stream_only);
  std::optional<Decision> DecideSend(const SyscallEvent& ev, GuestMemory& mem, CallSocket& sock);
  std::optional<Decision> DecideEmulatedConnect(const SyscallEvent& ev, GuestMemory& mem);
  // sendto/sendmsg/sendmmsg with MSG_FASTOPEN in emulate mode; nullopt when the call is no Fast
  // Open that names an address (then judged as a send).
  std::optional<Decision> DecideEmulatedFastOpen(const SyscallEvent& ev, GuestMemory& mem);
  std::optional<Decision> DecideListen(const SyscallEvent& ev, GuestMemory& mem);
  Decision Deny();
  Decision Unreadable(const Error& e);

  std::array<Lists, 3> lists_;
  const int errno_;
  const ConnectMode connect_mode_;
  SyscallSet syscalls_;
  std::atomic<uint64_t> allowed_{0};
  std::atomic<uint64_t> denied_{0};
  std::atomic<uint64_t> unreadable_{0};
  std::atomic<uint64_t> emulated_{0};  // connects the supervisor performed
};

}  // namespace hijack::modules
