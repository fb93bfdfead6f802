// net_guard's kernel floor (include/hijack/kernel_floor.h): the kernel can hold which TCP ports
// connect(2) and bind(2) may use (Landlock ABI 4), whatever the address. An allow list (default
// deny) of an operation becomes the union of its rules' ports; the addresses, deny rules, UDP,
// unix sockets and sends stay net_guard's.
#include <fmt/format.h>

#include "daemon/modules/net_guard/net_guard_module.h"

namespace hijack::modules {
namespace {

// Landlock takes one rule per port: a floor of more ports is left to the module.
constexpr uint32_t kMaxFloorPorts = 8192;

std::string PortsText(const std::pair<uint16_t, uint16_t>& r) {
  return r.first == r.second ? std::to_string(r.first)
                             : fmt::format("{}-{}", r.first, r.second);
}

}  // namespace

KernelFloor NetGuardModule::Floor() const {
  KernelFloor floor;
  constexpr const char* kNames[] = {"connect", "bind", "send"};
  for (int op : {kConnect, kBind, kSend}) {
    const Lists& l = lists_[static_cast<size_t>(op)];
    if (!l.configured) {
      continue;
    }
    auto module_only = [&](const AddressRule& r, bool allow, std::string reason) {
      floor.module_only.push_back(
          {fmt::format("{}_{} {}", kNames[op], allow ? "allow" : "deny", r.text()),
           std::move(reason)});
    };
    if (op == kSend) {
      for (const auto& r : l.allow) {
        module_only(r, true, "the kernel does not restrict sends by address");
      }
      for (const auto& r : l.deny) {
        module_only(r, false, "the kernel does not restrict sends by address");
      }
      continue;
    }
    for (const auto& r : l.deny) {
      module_only(r, false,
                  l.default_allow ? "a deny list (default allow): the kernel can only allow "
                                    "TCP ports and deny the rest"
                                  : "a deny rule inside the allowed ports");
    }
    if (l.default_allow) {
      continue;
    }
    KernelFloor::Ports ports;
    ports.handled = true;
    uint32_t count = 0;
    std::vector<KernelFloor::Held> held;
    for (const auto& r : l.allow) {
      auto range = r.TcpPorts();
      if (!range) {
        module_only(r, true, "not TCP: the kernel holds TCP ports only");
        continue;
      }
      count += static_cast<uint32_t>(range->second - range->first) + 1;
      ports.ranges.push_back(*range);
      held.push_back({fmt::format("{}_allow {}", kNames[op], r.text()),
                      fmt::format("TCP port {}, any address", PortsText(*range))});
    }
    if (count > kMaxFloorPorts) {
      for (const auto& r : l.allow) {
        if (r.TcpPorts()) {
          module_only(r, true,
                      fmt::format("the allow list names {} TCP ports; the kernel floor holds "
                                  "at most {}",
                                  count, kMaxFloorPorts));
        }
      }
      continue;
    }
    held.push_back({fmt::format("{}_default deny", kNames[op]),
                    ports.ranges.empty() ? "every TCP port" : "every other TCP port"});
    (op == kConnect ? floor.tcp_connect : floor.tcp_bind) = std::move(ports);
    floor.held.insert(floor.held.end(), held.begin(), held.end());
  }
  return floor;
}

}  // namespace hijack::modules
