// net_guard: allow or deny socket addresses on connect, bind and sends with an explicit address.
//
//   {"module": "net_guard",
//    "connect_allow": ["127.0.0.0/8", "::1", "unix:/run/app/*.sock"],
//    "bind_deny": ["*:1-1023"],
//    "errno": "EACCES"}
//
// Lists per operation: connect_*, bind_*, send_* (sendto, sendmsg and sendmmsg with a
// destination address; sends on connected sockets were checked at connect). For an address:
// a match in the *_deny list denies; else a match in *_allow allows; else `default` ("deny" when
// that operation has an allow list, else "allow"). Entries are AddressRules (family, CIDR v4/v6,
// port ranges, unix socket paths resolved like fs_guard's, @abstract names).
// DNS is not net_guard's business: rules name addresses, never host names; a guest that resolves
// names does so through the addresses (a resolver's, 127.0.0.53:53) the rules allow.
// A sockaddr that cannot be read denies (fail closed).
#pragma once

#include <atomic>
#include <vector>

#include "daemon/modules/net_guard/address_rule.h"
#include "daemon/policy/module_registry.h"
#include "daemon/syscalls/syscall_args.h"

namespace hijack::modules {

class NetGuardModule final : public PolicyModule {
 public:
  enum Op { kConnect = 0, kBind = 1, kSend = 2 };
  struct Lists {
    std::vector<AddressRule> allow;
    std::vector<AddressRule> deny;
    bool default_allow = true;
    bool configured = false;
  };

  NetGuardModule(std::array<Lists, 3> lists, int err);
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "net_guard"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;
  // net_guard_floor.cc: the TCP ports of connect and bind allow lists.
  KernelFloor Floor() const override;

  bool Allows(Op op, const SocketAddress& addr) const;

 private:
  std::optional<Decision> CheckAddress(const SyscallEvent& ev, GuestMemory& mem, Op op,
                                       syscalls::SockaddrRef ref);
  Decision Deny();

  const std::array<Lists, 3> lists_;
  const int errno_;
  SyscallSet syscalls_;
  std::atomic<uint64_t> allowed_{0};
  std::atomic<uint64_t> denied_{0};
  std::atomic<uint64_t> unreadable_{0};
};

}  // namespace hijack::modules
