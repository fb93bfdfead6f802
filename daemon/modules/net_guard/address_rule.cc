#include "daemon/modules/net_guard/address_rule.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace hijack::modules {
namespace {

struct FamilyName {
  const char* name;
  int family;
};
constexpr FamilyName kFamilies[] = {{"inet", AF_INET},     {"inet6", AF_INET6},
                                    {"unix", AF_UNIX},     {"netlink", AF_NETLINK},
                                    {"packet", AF_PACKET}, {"vsock", AF_VSOCK}};

bool ParsePort(std::string_view s, uint16_t& lo, uint16_t& hi) {
  auto one = [](std::string_view t, uint16_t& out) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size() || v > 65535) {
      return false;
    }
    out = static_cast<uint16_t>(v);
    return true;
  };
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    return one(s, lo) && (hi = lo, true);
  }
  return one(s.substr(0, dash), lo) && one(s.substr(dash + 1), hi) && lo <= hi;
}

bool PrefixEqual(const uint8_t* a, const uint8_t* b, int bits) {
  int bytes = bits / 8;
  if (std::memcmp(a, b, static_cast<size_t>(bytes)) != 0) {
    return false;
  }
  int rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

}  // namespace

Result<AddressRule> AddressRule::Parse(const std::string& text) {
  AddressRule r;
  r.text_ = text;
  auto bad = [&](std::string_view why) {
    return MakeError(fmt::format("address rule \"{}\": {}", text, why));
  };
  if (text == "any") {
    return r;
  }
  for (const auto& f : kFamilies) {
    if (text == f.name) {
      r.kind_ = Kind::kFamily;
      r.family_ = f.family;
      return r;
    }
  }
  if (text.starts_with("unix:")) {
    std::string rest = text.substr(5);
    if (rest.starts_with("@")) {
      r.kind_ = Kind::kUnixAbstract;
      r.abstract_glob_ = rest.substr(1);
      return r;
    }
    auto p = PathPattern::Parse(rest);
    if (!p) {
      return bad("a unix socket path must be absolute (or @abstract)");
    }
    r.kind_ = Kind::kUnixPath;
    r.path_ = std::move(*p);
    return r;
  }
  // [v6]:port, v4:port, *:port, or a bare address/CIDR.
  std::string addr = text;
  std::string port;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      return bad("missing ]");
    }
    addr = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        return bad("expected :port after ]");
      }
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    size_t colon = text.find(':');
    addr = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (!port.empty() && !ParsePort(port, r.port_lo_, r.port_hi_)) {
    return bad("bad port or port range (expected N or N-M within 0..65535)");
  }
  r.kind_ = Kind::kIp;
  if (addr == "*") {
    r.family_ = 0;
    return r;
  }
  std::string host = addr;
  int bits = -1;
  if (size_t slash = addr.find('/'); slash != std::string::npos) {
    host = addr.substr(0, slash);
    std::string_view b = std::string_view(addr).substr(slash + 1);
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || p != b.data() + b.size() || bits < 0) {
      return bad("bad prefix length");
    }
  }
  if (inet_pton(AF_INET, host.c_str(), r.ip_.data()) == 1) {
    r.family_ = AF_INET;
    if (bits > 32) {
      return bad("an IPv4 prefix length is at most 32");
    }
    r.prefix_bits_ = bits < 0 ? 32 : bits;
  } else if (inet_pton(AF_INET6, host.c_str(), r.ip_.data()) == 1) {
    r.family_ = AF_INET6;
    if (bits > 128) {
      return bad("an IPv6 prefix length is at most 128");
    }
    r.prefix_bits_ = bits < 0 ? 128 : bits;
  } else {
    return bad(
        "not a family (inet, inet6, unix, netlink, packet, vsock), an IP address or CIDR, "
        "*:port, or unix:/path (host names are not resolved: DNS is not net_guard's business)");
  }
  return r;
}

bool AddressRule::MatchesKind(const SocketKind* kind) const {
  return types_.any() || (kind != nullptr && types_.Matches(*kind));
}

bool AddressRule::Matches(const SocketAddress& addr, const SocketKind* kind) const {
  if (!MatchesKind(kind)) {
    return false;
  }
  switch (kind_) {
    case Kind::kAny:
      return true;
    case Kind::kFamily:
      return addr.family == family_;
    case Kind::kUnixPath:
      return addr.family == AF_UNIX && !addr.unix_path.empty() && addr.unix_path[0] == '/' &&
             path_->Matches(addr.unix_path);
    case Kind::kUnixAbstract:
      return addr.family == AF_UNIX && addr.unix_path.starts_with("@") &&
             fnmatch(abstract_glob_.c_str(), addr.unix_path.c_str() + 1, 0) == 0;
    case Kind::kIp:
      break;
  }
  if (addr.family != AF_INET && addr.family != AF_INET6) {
    return false;
  }
  if (addr.port < port_lo_ || addr.port > port_hi_) {
    return false;
  }
  if (family_ == 0) {
    return true;
  }
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4 on the wire.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (addr.family == AF_INET6 && family_ == AF_INET &&
      std::memcmp(addr.ip.data(), kMapped, 12) == 0) {
    return PrefixEqual(addr.ip.data() + 12, ip_.data(), prefix_bits_);
  }
  return addr.family == family_ && PrefixEqual(addr.ip.data(), ip_.data(), prefix_bits_);
}

policy::Setting AddressRulesSetting(std::string name, std::string description) {
  policy::Setting s = policy::setting::Strings(std::move(name), std::move(description));
  s.item_types |= policy::kJsonObject;
  s.fields = {
      policy::setting::Text("address", "an address rule (default: any)").Default("any"),
      policy::setting::Flags("type", "the socket types the rule applies to",
                             SocketTypes::Names()),
  };
  return s;
}

Result<std::optional<std::vector<AddressRule>>> ReadAddressRules(policy::ConfigReader& config,
                                                                std::string_view key) {
  const nlohmann::json* v = config.Raw(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  const std::string path = config.PathOf(key);
  auto one = [](const std::string& where, const std::string& text) -> Result<AddressRule> {
    auto rule = AddressRule::Parse(text);
    if (!rule) {
      return MakeError(fmt::format("{}: {}", where, rule.error().message));
    }
    return rule;
  };
  std::vector<AddressRule> out;
  if (v->is_string()) {
    HIJACK_ASSIGN_OR_RETURN(AddressRule r, one(path, v->get<std::string>()));
    out.push_back(std::move(r));
    return out;
  }
  if (!v->is_array()) {
    return MakeError(fmt::format(
        "{}: expected a list of address rules (strings or {{\"address\", \"type\"}} objects), "
        "got {}",
        path, v->type_name()));
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& item = (*v)[i];
    const std::string where = fmt::format("{}/{}", path, i);
    if (item.is_string()) {
      HIJACK_ASSIGN_OR_RETURN(AddressRule r, one(where, item.get<std::string>()));
      out.push_back(std::move(r));
      continue;
    }
    if (!item.is_object()) {
      return MakeError(fmt::format(
          "{}: expected an address rule (a string or {{\"address\", \"type\"}}), got {}", where,
          item.type_name()));
    }
    policy::ConfigReader rc(item, where);
    HIJACK_ASSIGN_OR_RETURN(auto address, rc.String("address"));
    HIJACK_ASSIGN_OR_RETURN(AddressRule r, one(rc.PathOf("address"), address.value_or("any")));
    HIJACK_ASSIGN_OR_RETURN(auto types, rc.StringList("type"));
    if (types) {
      if (types->empty()) {
        return MakeError(rc.PathOf("type") + ": expected at least one socket type (known: " +
                         SocketTypes::KnownNames() + ")");
      }
      for (size_t t = 0; t < types->size(); ++t) {
        if (auto bad = SocketTypes::Parse({(*types)[t]}); !bad) {
          const bool single = item.at("type").is_string();
          return MakeError(fmt::format("{}{}: {}", rc.PathOf("type"),
                                       single ? "" : fmt::format("/{}", t), bad.error().message));
        }
      }
      auto parsed = SocketTypes::Parse(*types);
      r.set_types(*parsed);
    }
    HIJACK_TRY(rc.Finish());
    out.push_back(std::move(r));
  }
  return out;
}

bool AnyNeedsKind(const std::vector<AddressRule>& rules) {
  for (const AddressRule& r : rules) {
    if (r.needs_kind()) {
      return true;
    }
  }
  return false;
}

}  // namespace hijack::modules

namespace hijack::modules {

std::optional<std::pair<uint16_t, uint16_t>> AddressRule::TcpPorts() const {
  const SocketKind tcp4{.domain = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP};
  const SocketKind tcp6{.domain = AF_INET6, .type = SOCK_STREAM, .protocol = IPPROTO_TCP};
  if (!types_.any() && !types_.Matches(tcp4) && !types_.Matches(tcp6)) {
    return std::nullopt;
  }
  switch (kind_) {
    case Kind::kAny:
      return std::pair<uint16_t, uint16_t>{0, 65535};
    case Kind::kFamily:
      if (family_ == AF_INET || family_ == AF_INET6) {
        return std::pair<uint16_t, uint16_t>{0, 65535};
      }
      return std::nullopt;
    case Kind::kIp:
      return std::pair{port_lo_, port_hi_};
    case Kind::kUnixPath:
    case Kind::kUnixAbstract:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace hijack::modules
