#include "daemon/modules/net_guard/net_guard_module.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "daemon/modules/fs_guard/guest_path.h"
#include "daemon/modules/net_guard/connect_emulate.h"
#include "daemon/modules/net_guard/guest_socket.h"
#include "daemon/syscalls/sockaddr.h"
#include "daemon/syscalls/syscall_args.h"

namespace hijack::modules {
namespace {

constexpr const char* kOpNames[] = {"connect", "bind", "send"};

bool IsStream(const SocketKind& k) { return k.type == SOCK_STREAM || k.type == SOCK_SEQPACKET; }

}  // namespace

// The socket a call acts on, taken from the guest at most once per call and only when a rule
// needs it (GuestSocket::Take costs eight system calls).
class NetGuardModule::CallSocket {
 public:
  CallSocket(const SyscallEvent& ev, GuestMemory& mem, std::optional<int> fd)
      : ev_(ev), mem_(mem), fd_(fd) {}
  // The socket; nullopt inside when the descriptor is not a socket. Errors as GuestSocket::Take.
  const Result<std::optional<GuestSocket>>& Get() {
    if (!taken_) {
      taken_.emplace(fd_ ? GuestSocket::Take(ev_, mem_, *fd_)
                         : std::unexpected(Error{EBADF, "the call names no descriptor"}));
    }
    return *taken_;
  }

 private:
  const SyscallEvent& ev_;
  GuestMemory& mem_;
  std::optional<int> fd_;
  std::optional<Result<std::optional<GuestSocket>>> taken_;
};

NetGuardModule::NetGuardModule(std::array<Lists, 3> lists, int err, ConnectMode connect_mode)
    : lists_(std::move(lists)), errno_(err), connect_mode_(connect_mode) {
  for (Lists& l : lists_) {
    l.needs_kind = AnyNeedsKind(l.allow) || AnyNeedsKind(l.deny);
  }
  if (lists_[kConnect].configured) {
    syscalls_.Add(SCMP_SYS(connect));
    // TCP Fast Open: sendto/sendmsg/sendmmsg with MSG_FASTOPEN connect (tcp(7)).
    syscalls_.Add(SCMP_SYS(sendto));
    syscalls_.Add(SCMP_SYS(sendmsg));
    syscalls_.Add(SCMP_SYS(sendmmsg));
  }
  if (lists_[kBind].configured) {
    syscalls_.Add(SCMP_SYS(bind));
    syscalls_.Add(SCMP_SYS(listen));  // binds an unbound socket (ip(7))
  }
  if (lists_[kSend].configured) {
    syscalls_.AddAll(syscalls::SendCalls());
    syscalls_.Add(SCMP_SYS(io_submit));  // IOCB_CMD_PWRITE on a socket sends (aio(7))
  }
}

bool NetGuardModule::Allows(Op op, const SocketAddress& addr, const SocketKind* kind) const {
  const Lists& l = lists_[op];
  for (const auto& r : l.deny) {
    if (r.Matches(addr, kind)) {
      return false;
    }
  }
  for (const auto& r : l.allow) {
    if (r.Matches(addr, kind)) {
      return true;
    }
  }
  return l.default_allow;
}

Decision NetGuardModule::Deny() {
  denied_.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(errno_);
}

Decision NetGuardModule::Unreadable(const Error& e) {
  unreadable_.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(e.code == EFAULT ? EFAULT : errno_);
}

std::optional<Decision> NetGuardModule::Judge(Op op, const SocketAddress& addr, CallSocket& sock) {
  const SocketKind* kind = nullptr;
  if (lists_[op].needs_kind) {
    const auto& s = sock.Get();
    if (!s) {
      if (s.error().code == EBADF) {
        return std::nullopt;  // no such descriptor: the kernel answers EBADF
      }
      return Unreadable(s.error());  // a type rule that cannot be evaluated denies
    }
    kind = *s ? &(*s)->kind() : nullptr;
  }
  if (!Allows(op, addr, kind)) {
    return Deny();
  }
  return std::nullopt;
}

std::optional<Decision> NetGuardModule::CheckAddress(const SyscallEvent& ev, GuestMemory& mem,
                                                     Op op, syscalls::SockaddrRef ref,
                                                     CallSocket& sock) {
  auto read = syscalls::ReadSockaddr(mem, ref);
  if (!read) {
    return Unreadable(read.error());
  }
  if (!*read || !(*read)->complete) {
    return Decision::Fail(EINVAL);  // as the kernel answers an address too short for its family
  }
  SocketAddress a = std::move(**read);
  if (a.family == AF_UNIX && !a.abstract && !a.unix_path.empty()) {
    // Socket files are named like files: relative to the cwd, through symlinks.
    GuestPathResolver resolver(ev, mem);
    ResolveOptions options;
    options.follow_last = op != kBind;
    auto r = resolver.Resolve(AT_FDCWD, a.unix_path, options);
    if (r) {
      a.unix_path = r->path;
    } else if (r.error().code == ENOENT || r.error().code == ENOTDIR) {
      return Decision::Fail(r.error().code);
    } else {
      return Unreadable(r.error());
    }
  }
  return Judge(op, a, sock);
}

std::optional<Decision> NetGuardModule::CheckPeer(CallSocket& sock, bool stream_only) {
  const auto& s = sock.Get();
  if (!s) {
    if (s.error().code == EBADF) {
      return std::nullopt;  // no such descriptor: the kernel answers EBADF
    }
    return Unreadable(s.error());
  }
  if (!*s) {
    return std::nullopt;  // a pipe, a file, a terminal: not a send on a socket
  }
  const GuestSocket& socket = **s;
  if (stream_only && !IsStream(socket.kind())) {
    return std::nullopt;
  }
  auto peer = socket.Peer();
  if (!peer) {
    return Unreadable(peer.error());  // no peer we can name (AF_PACKET): fail closed
  }
  if (!*peer) {
    // Not connected. A datagram socket then sends nothing without an address (EDESTADDRREQ);
    // a stream socket may be in SYN_SENT (a non-blocking connect, or TCP_FASTOPEN_CONNECT's
    // deferred one) where getpeername(2) says ENOTCONN yet a write is sent once connected.
    if (IsStream(socket.kind())) {
      return Deny();
    }
    return std::nullopt;
  }
  return Judge(kSend, **peer, sock);
}

std::optional<Decision> NetGuardModule::DecideSend(const SyscallEvent& ev, GuestMemory& mem,
                                                   CallSocket& sock) {
  const bool send_rules = lists_[kSend].configured;
  bool fastopen = false;
  if (lists_[kConnect].configured && (syscalls::MsgFlagsArg(ev) & MSG_FASTOPEN) != 0) {
    // MSG_FASTOPEN connects an unconnected TCP socket to msg_name and sends the data in the SYN
    // (tcp(7)): the address is judged as a connect. Other sockets ignore the flag.
    const auto& s = sock.Get();
    if (!s && s.error().code != EBADF) {
      return Unreadable(s.error());
    }
    fastopen = s && *s && IsStream((*s)->kind());
  }
  if (!send_rules && !fastopen) {
    return std::nullopt;
  }
  // The addresses the call names: sendto's, each message's msg_name.
  std::vector<syscalls::SockaddrRef> named;
  bool unnamed = false;  // some message has no address: it goes to the peer
  if (std::optional<syscalls::SockaddrRef> ref = syscalls::SockaddrArg(ev)) {
    (ref->addr != 0 ? named.push_back(*ref) : void(unnamed = true));
  }
  const uint64_t count = syscalls::MessageCount(ev);
  for (uint64_t i = 0; i < count; ++i) {
    auto ref = syscalls::MessageAddress(ev, mem, i);
    if (!ref) {
      return Unreadable(ref.error());
    }
    (ref->addr != 0 ? named.push_back(*ref) : void(unnamed = true));
  }
  if (!syscalls::SockaddrArg(ev) && count == 0) {
    unnamed = true;  // write, writev, pwritev2, sendfile, splice
  }
  for (const syscalls::SockaddrRef& ref : named) {
    if (fastopen) {
      if (auto d = CheckAddress(ev, mem, kConnect, ref, sock)) {
        return d;
      }
    }
    if (send_rules) {
      if (auto d = CheckAddress(ev, mem, kSend, ref, sock)) {
        return d;
      }
    }
  }
  if (!send_rules) {
    return std::nullopt;
  }
  // A connected stream socket sends to its peer whatever address the call names (tcp(7) ignores
  // msg_name but for MSG_FASTOPEN); a message without an address goes to the peer.
  return CheckPeer(sock, /*stream_only=*/!unnamed);
}

bool NetGuardModule::MayBlock(int nr) const {
  return connect_mode_ == ConnectMode::kEmulate && lists_[kConnect].configured &&
         (nr == SCMP_SYS(connect) || nr == SCMP_SYS(sendto) || nr == SCMP_SYS(sendmsg));
}

namespace {

// What a sendto(2) or sendmsg(2) sends: its data gathered from guest memory (at most
// kMaxFastOpenBytes), and whether it carries control messages. Errors: EFAULT for memory that
// cannot be read, EMSGSIZE for more than UIO_MAXIOV iovecs, as the kernel answers.
struct SendData {
  std::vector<std::byte> bytes;
  bool has_control = false;
};

Result<SendData> ReadSendData(const SyscallEvent& ev, GuestMemory& mem) {
  SendData out;
  std::vector<iovec> iov;
  if (ev.nr == SCMP_SYS(sendto)) {
    iov.push_back(iovec{reinterpret_cast<void*>(ev.args[1]), static_cast<size_t>(ev.args[2])});
  } else {
    msghdr msg{};
    HIJACK_ASSIGN_OR_RETURN(size_t got,
                            mem.Read(ev.args[1], std::as_writable_bytes(std::span(&msg, 1))));
    if (got < sizeof msg) {
      return std::unexpected(Error{EFAULT, "msghdr cut short by unreadable memory"});
    }
    out.has_control = msg.msg_controllen != 0;
    if (msg.msg_iovlen > syscalls::kMaxMessages) {
      return std::unexpected(Error{EMSGSIZE, "more than UIO_MAXIOV iovecs"});
    }
    iov.resize(msg.msg_iovlen);
    if (!iov.empty()) {
      HIJACK_ASSIGN_OR_RETURN(
          size_t n, mem.Read(reinterpret_cast<uint64_t>(msg.msg_iov),
                             std::as_writable_bytes(std::span(iov))));
      if (n < iov.size() * sizeof(iovec)) {
        return std::unexpected(Error{EFAULT, "iovec array cut short by unreadable memory"});
      }
    }
  }
  for (const iovec& v : iov) {
    const size_t take = std::min(v.iov_len, kMaxFastOpenBytes - out.bytes.size());
    if (take == 0) {
      continue;
    }
    const size_t at = out.bytes.size();
    out.bytes.resize(at + take);
    HIJACK_ASSIGN_OR_RETURN(size_t n, mem.Read(reinterpret_cast<uint64_t>(v.iov_base),
                                               std::span(out.bytes).subspan(at, take)));
    if (n < take) {
      return std::unexpected(Error{EFAULT, "send buffer cut short by unreadable memory"});
    }
  }
  return out;
}

}  // namespace

std::optional<Decision> NetGuardModule::DecideEmulatedFastOpen(const SyscallEvent& ev,
                                                               GuestMemory& mem) {
  CallSocket sock(ev, mem, syscalls::SendFdArg(ev));
  const auto& s = sock.Get();
  if (!s) {
    return s.error().code == EBADF ? std::nullopt : std::optional(Unreadable(s.error()));
  }
  if (!*s || !IsStream((*s)->kind()) ||
      ((*s)->kind().domain != AF_INET && (*s)->kind().domain != AF_INET6)) {
    return std::nullopt;  // not TCP: the kernel ignores the flag (the send rules came first)
  }
  // The address the call names. None: a Fast Open whose address connect(2) gave
  // (TCP_FASTOPEN_CONNECT), judged there; the kernel holds its own copy since.
  syscalls::SockaddrRef ref;
  if (ev.nr == SCMP_SYS(sendmmsg)) {
    // Each message would be a Fast Open of its own (only the first can connect): not emulated.
    for (uint64_t i = 0; i < syscalls::MessageCount(ev); ++i) {
      auto r = syscalls::MessageAddress(ev, mem, i);
      if (!r) {
        return Unreadable(r.error());
      }
      if (r->addr != 0) {
        denied_.fetch_add(1, std::memory_order_relaxed);
        return Decision::Fail(EOPNOTSUPP);  // what a kernel without Fast Open answers
      }
    }
    return std::nullopt;
  } else if (ev.nr == SCMP_SYS(sendto)) {
    ref = *syscalls::SockaddrArg(ev);
  } else {
    auto r = syscalls::MessageAddress(ev, mem, 0);
    if (!r) {
      return Unreadable(r.error());
    }
    ref = *r;
  }
  if (ref.addr == 0) {
    return std::nullopt;
  }
  std::array<std::byte, sizeof(sockaddr_storage)> bytes{};
  if (ref.len > bytes.size()) {
    return Decision::Fail(EINVAL);
  }
  if (ref.len > 0) {
    auto got = mem.Read(ref.addr, std::span(bytes).first(ref.len));
    if (!got || *got < ref.len) {
      return Decision::Fail(EFAULT);
    }
  }
  const std::span<const std::byte> addr = std::span(bytes).first(ref.len);
  std::optional<SocketAddress> a = syscalls::ParseSockaddr(addr);
  if (!a || !a->complete) {
    return Decision::Fail(EINVAL);
  }
  if (std::optional<Decision> d = Judge(kConnect, *a, sock)) {
    return d;
  }
  if (lists_[kSend].configured) {
    if (std::optional<Decision> d = Judge(kSend, *a, sock)) {
      return d;
    }
  }
  const uint64_t flags = syscalls::MsgFlagsArg(ev);
  auto data = ReadSendData(ev, mem);
  if (!data) {
    return Decision::Fail(data.error().code);
  }
  if (data->has_control || (flags & MSG_ZEROCOPY) != 0) {
    // Control messages would be applied with the supervisor's privileges (SO_MARK,
    // SO_PRIORITY), and zero-copy completions would reach the supervisor's error queue: such a
    // Fast Open is refused as a kernel without it answers, and the guest can connect(2) first.
    denied_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(EOPNOTSUPP);
  }
  allowed_.fetch_add(1, std::memory_order_relaxed);
  emulated_.fetch_add(1, std::memory_order_relaxed);
  return FastOpenOnCopy((*s)->fd(), addr, data->bytes, static_cast<int>(flags), ev, mem);
}

std::optional<Decision> NetGuardModule::DecideEmulatedConnect(const SyscallEvent& ev,
                                                              GuestMemory& mem) {
  const std::optional<syscalls::SockaddrRef> ref = syscalls::SockaddrArg(ev);
  if (!ref) {
    allowed_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;  // no native layout: as the check mode
  }
  // The address first, as the kernel copies it before it looks at the descriptor
  // (net/socket.c, move_addr_to_kernel): longer than a sockaddr_storage is EINVAL.
  std::array<std::byte, sizeof(sockaddr_storage)> bytes{};
  const uint32_t len = ref->len;
  if (len > bytes.size()) {
    return Decision::Fail(EINVAL);
  }
  if (len > 0) {
    auto got = mem.Read(ref->addr, std::span(bytes).first(len));
    if (!got || *got < len) {
      return Decision::Fail(EFAULT);
    }
  }
  const std::span<const std::byte> addr = std::span(bytes).first(len);
  CallSocket sock(ev, mem, syscalls::FdArg(ev));
  const auto& s = sock.Get();
  if (!s) {
    return s.error().code == EBADF ? Decision::Fail(EBADF) : Unreadable(s.error());
  }
  if (!*s) {
    return Decision::Fail(ENOTSOCK);
  }
  const SocketKind& kind = (*s)->kind();
  if (kind.domain != AF_INET && kind.domain != AF_INET6) {
    // Not emulated (see the header): judged by the socket's own family and type, never by the
    // bytes in guest memory, which the kernel reads again and which must name that family
    // anyway (else EINVAL): the rules of this mode name nothing finer for these families
    // (ReadLists refuses unix path and abstract-name rules with "connect": "emulate"), so no
    // rewrite of the buffer can change the verdict. The kernel then runs the call.
    SocketAddress family_only;
    family_only.family = kind.domain;
    std::optional<Decision> d = Judge(kConnect, family_only, sock);
    if (!d) {
      allowed_.fetch_add(1, std::memory_order_relaxed);
    }
    return d;  // nullopt: the next module, then the kernel
  }
  std::optional<SocketAddress> a = syscalls::ParseSockaddr(addr);
  if (!a || !a->complete) {
    return Decision::Fail(EINVAL);  // as the kernel answers an address too short for its family
  }
  if (std::optional<Decision> d = Judge(kConnect, *a, sock)) {
    return *d;
  }
  allowed_.fetch_add(1, std::memory_order_relaxed);
  emulated_.fetch_add(1, std::memory_order_relaxed);
  return ConnectOnCopy((*s)->fd(), addr, kind.type == SOCK_STREAM, ev, mem);
}

std::optional<Decision> NetGuardModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  if (ev.nr == SCMP_SYS(connect) && connect_mode_ == ConnectMode::kEmulate) {
    return DecideEmulatedConnect(ev, mem);
  }
  if (connect_mode_ == ConnectMode::kEmulate && lists_[kConnect].configured &&
      (syscalls::MsgFlagsArg(ev) & MSG_FASTOPEN) != 0 &&
      (ev.nr == SCMP_SYS(sendto) || ev.nr == SCMP_SYS(sendmsg) || ev.nr == SCMP_SYS(sendmmsg))) {
    if (std::optional<Decision> d = DecideEmulatedFastOpen(ev, mem)) {
      return d;
    }
    // Not a Fast Open that connects: judged as the send it is.
  }
  std::optional<Decision> d;
  if (ev.nr == SCMP_SYS(connect) || ev.nr == SCMP_SYS(bind)) {
    CallSocket sock(ev, mem, syscalls::FdArg(ev));
    const Op op = ev.nr == SCMP_SYS(connect) ? kConnect : kBind;
    if (std::optional<syscalls::SockaddrRef> ref = syscalls::SockaddrArg(ev)) {
      d = CheckAddress(ev, mem, op, *ref, sock);
    }
  } else if (ev.nr == SCMP_SYS(listen)) {
    d = DecideListen(ev, mem);
  } else if (ev.nr == SCMP_SYS(io_submit)) {
    auto fds = syscalls::AioWriteFds(ev, mem);
    if (!fds) {
      d = Unreadable(fds.error());
    }
    for (size_t i = 0; fds && i < fds->size() && !d; ++i) {
      CallSocket sock(ev, mem, (*fds)[i]);
      d = CheckPeer(sock, /*stream_only=*/false);
    }
  } else if (std::optional<int> fd = syscalls::SendFdArg(ev)) {
    CallSocket sock(ev, mem, fd);
    d = DecideSend(ev, mem, sock);
  }
  if (!d) {
    allowed_.fetch_add(1, std::memory_order_relaxed);
  }
  return d;
}

std::optional<Decision> NetGuardModule::DecideListen(const SyscallEvent& ev, GuestMemory& mem) {
  // listen(2) on an unbound AF_INET/AF_INET6 stream socket binds it to the wildcard address on
  // an ephemeral port (ip(7), inet_autobind): judged as bind to that address, port 0.
  CallSocket sock(ev, mem, syscalls::FdArg(ev));
  const auto& s = sock.Get();
  if (!s) {
    return s.error().code == EBADF ? std::nullopt : std::optional(Unreadable(s.error()));
  }
  if (!*s || !IsStream((*s)->kind())) {
    return std::nullopt;  // ENOTSOCK, EOPNOTSUPP: the kernel's answer
  }
  auto unbound = (*s)->IsUnboundInet();
  if (!unbound) {
    return Unreadable(unbound.error());
  }
  if (!*unbound) {
    return std::nullopt;  // bound already: the bind was judged
  }
  return Judge(kBind, WildcardAddress((*s)->kind().domain), sock);
}

nlohmann::json NetGuardModule::Stats() const {
  return {{"allowed", allowed_.load(std::memory_order_relaxed)},
          {"denied", denied_.load(std::memory_order_relaxed)},
          {"unreadable", unreadable_.load(std::memory_order_relaxed)},
          {"emulated", emulated_.load(std::memory_order_relaxed)}};
}

Result<std::array<NetGuardModule::Lists, 3>> NetGuardModule::ReadLists(
    policy::ConfigReader& config) {
  std::array<Lists, 3> lists;
  bool any = false;
  for (int op = 0; op < 3; ++op) {
    Lists& l = lists[static_cast<size_t>(op)];
    HIJACK_ASSIGN_OR_RETURN(auto allow,
                            ReadAddressRules(config, fmt::format("{}_allow", kOpNames[op])));
    HIJACK_ASSIGN_OR_RETURN(auto deny,
                            ReadAddressRules(config, fmt::format("{}_deny", kOpNames[op])));
    // A list that is given is a rule, even when empty: "connect_allow": [] allows no address.
    // Only a missing key means no rule for that operation.
    l.configured = allow.has_value() || deny.has_value();
    l.default_allow = !allow.has_value();
    l.allow = std::move(allow).value_or(std::vector<AddressRule>{});
    l.deny = std::move(deny).value_or(std::vector<AddressRule>{});
    std::string key = fmt::format("{}_default", kOpNames[op]);
    HIJACK_ASSIGN_OR_RETURN(auto def, config.Enum<bool>(key, {{"allow", true}, {"deny", false}}));
    if (def) {
      l.default_allow = *def;
      l.configured = true;
    }
    any = any || l.configured;
  }
  if (!any) {
    return MakeError(config.path() +
                     ": net_guard needs at least one of connect_allow, connect_deny, "
                     "bind_allow, bind_deny, send_allow, send_deny (or a *_default)");
  }
  return lists;
}

policy::ModuleInfo NetGuardModule::Info() {
  std::vector<policy::Setting> settings;
  for (const char* op : kOpNames) {
    settings.push_back(AddressRulesSetting(
        fmt::format("{}_allow", op),
        fmt::format("address rules {} allows; others denied (an empty list allows nothing)",
                    op)));
    settings.push_back(AddressRulesSetting(fmt::format("{}_deny", op),
                                           fmt::format("address rules {} denies (checked first)",
                                                       op)));
    settings.push_back(policy::setting::Choice(fmt::format("{}_default", op),
                                               fmt::format("what a {} no rule matches gets", op),
                                               {"allow", "deny"}));
  }
  settings.push_back(policy::setting::Errno("errno of denied calls", "EACCES"));
  settings.push_back(policy::setting::Choice("connect",
                                             "check: judge the address, the kernel connects; "
                                             "emulate: the supervisor connects the guest's "
                                             "IPv4/IPv6 socket to the address it judged, makes "
                                             "TCP Fast Open sends itself, and judges other "
                                             "families by the socket (race-free; rules naming "
                                             "unix sockets are refused)",
                                             {"check", "emulate"})
                         .Default("check"));
  return {
      .name = "net_guard",
      .summary =
          "allow or deny connect/bind/listen/sends by family, CIDR, port, unix path and "
          "socket type",
      .settings = std::move(settings),
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        HIJACK_ASSIGN_OR_RETURN(auto lists, ReadLists(config));
        HIJACK_ASSIGN_OR_RETURN(int err, config.Errno("errno", EACCES));
        HIJACK_ASSIGN_OR_RETURN(
            auto mode, config.Enum<ConnectMode>("connect", {{"check", ConnectMode::kCheck},
                                                            {"emulate", ConnectMode::kEmulate}}));
        if (mode == ConnectMode::kEmulate) {
          // A unix socket's connect cannot be made by the supervisor for the guest (the server
          // would see the supervisor's SO_PEERCRED and SO_PEERPIDFD, unix(7)), and the kernel
          // reads the path again after the check: a rule that tells one unix name from another
          // cannot be judged race-free, so this mode refuses it rather than hold it racily.
          const std::pair<const char*, const std::vector<AddressRule>*> named[] = {
              {"connect_allow", &lists[kConnect].allow}, {"connect_deny", &lists[kConnect].deny}};
          for (const auto& [key, list] : named) {
            const std::vector<AddressRule>& rules = *list;
            for (size_t i = 0; i < rules.size(); ++i) {
              if (rules[i].NamesUnixSocket()) {
                return MakeError(fmt::format(
                    "{}/{}/{}: \"{}\" names a unix socket, which \"connect\": \"emulate\" "
                    "cannot judge race-free (the supervisor cannot connect a unix socket for "
                    "the guest without the server seeing the supervisor's credentials, and the "
                    "kernel reads the path again after a check); use the family \"unix\", or "
                    "\"connect\": \"check\", which judges unix names with a race "
                    "(docs/SECURITY.md)",
                    config.path(), key, i, rules[i].text()));
              }
            }
          }
        }
        return std::make_unique<NetGuardModule>(std::move(lists), err,
                                                mode.value_or(ConnectMode::kCheck));
      },
  };
}

}  // namespace hijack::modules
