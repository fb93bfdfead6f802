#include "daemon/syscalls/arg_decoder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/audit.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include "daemon/syscalls/sockaddr.h"
#include "daemon/syscalls/syscall_args.h"
#include "hijack/result.h"
#include "hijack/syscall_set.h"

namespace hijack::syscalls {
namespace {

using enum ArgKind;

struct Name {
  uint64_t value;
  std::string_view name;
};

// Flag tables list multi-bit flags before the flags they contain (O_SYNC before O_DSYNC).
// Values are the kernel's (include/uapi); where glibc's differ or are missing, as literals.

// Tables keep their hand-made columns.
// clang-format off
constexpr uint64_t kOLargefile = 0100000;  // glibc defines O_LARGEFILE as 0 on 64-bit arches
constexpr Name kOpenFlagNames[] = {
    {O_CREAT, "O_CREAT"},         {O_EXCL, "O_EXCL"},           {O_NOCTTY, "O_NOCTTY"},
    {O_TRUNC, "O_TRUNC"},         {O_APPEND, "O_APPEND"},       {O_NONBLOCK, "O_NONBLOCK"},
    {O_SYNC, "O_SYNC"},           {O_DSYNC, "O_DSYNC"},         {O_ASYNC, "O_ASYNC"},
    {O_DIRECT, "O_DIRECT"},       {kOLargefile, "O_LARGEFILE"}, {O_NOFOLLOW, "O_NOFOLLOW"},
    {O_NOATIME, "O_NOATIME"},     {O_CLOEXEC, "O_CLOEXEC"},     {O_PATH, "O_PATH"},
    {O_TMPFILE, "O_TMPFILE"},     {O_DIRECTORY, "O_DIRECTORY"},
};
constexpr Name kOpenAccessNames[] = {
    {O_RDONLY, "O_RDONLY"}, {O_WRONLY, "O_WRONLY"}, {O_RDWR, "O_RDWR"}, {3, "O_ACCMODE"}};

constexpr Name kAtFlagNames[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"},  {0x200, "AT_REMOVEDIR"},
    {0x400, "AT_SYMLINK_FOLLOW"},    {0x800, "AT_NO_AUTOMOUNT"},
    {0x1000, "AT_EMPTY_PATH"},       {0x2000, "AT_STATX_FORCE_SYNC"},
    {0x4000, "AT_STATX_DONT_SYNC"},  {0x8000, "AT_RECURSIVE"},
};
constexpr Name kAccessAtFlagNames[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_EACCESS"}, {0x1000, "AT_EMPTY_PATH"}};
constexpr Name kAccessModeNames[] = {{R_OK, "R_OK"}, {W_OK, "W_OK"}, {X_OK, "X_OK"}};
constexpr Name kRenameFlagNames[] = {
    {1, "RENAME_NOREPLACE"}, {2, "RENAME_EXCHANGE"}, {4, "RENAME_WHITEOUT"}};

constexpr Name kSocketFamilyNames[] = {
    {AF_UNSPEC, "AF_UNSPEC"},         {AF_UNIX, "AF_UNIX"},
    {AF_INET, "AF_INET"},             {AF_AX25, "AF_AX25"},
    {AF_IPX, "AF_IPX"},               {AF_APPLETALK, "AF_APPLETALK"},
    {AF_NETROM, "AF_NETROM"},         {AF_BRIDGE, "AF_BRIDGE"},
    {AF_ATMPVC, "AF_ATMPVC"},         {AF_X25, "AF_X25"},
    {AF_INET6, "AF_INET6"},           {AF_ROSE, "AF_ROSE"},
    {AF_DECnet, "AF_DECnet"},         {AF_NETBEUI, "AF_NETBEUI"},
    {AF_SECURITY, "AF_SECURITY"},     {AF_KEY, "AF_KEY"},
    {AF_NETLINK, "AF_NETLINK"},       {AF_PACKET, "AF_PACKET"},
    {AF_ASH, "AF_ASH"},               {AF_ECONET, "AF_ECONET"},
    {AF_ATMSVC, "AF_ATMSVC"},         {AF_RDS, "AF_RDS"},
    {AF_SNA, "AF_SNA"},               {AF_IRDA, "AF_IRDA"},
    {AF_PPPOX, "AF_PPPOX"},           {AF_WANPIPE, "AF_WANPIPE"},
    {AF_LLC, "AF_LLC"},               {AF_IB, "AF_IB"},
    {AF_MPLS, "AF_MPLS"},             {AF_CAN, "AF_CAN"},
    {AF_TIPC, "AF_TIPC"},             {AF_BLUETOOTH, "AF_BLUETOOTH"},
    {AF_IUCV, "AF_IUCV"},             {AF_RXRPC, "AF_RXRPC"},
    {AF_ISDN, "AF_ISDN"},             {AF_PHONET, "AF_PHONET"},
    {AF_IEEE802154, "AF_IEEE802154"}, {AF_CAIF, "AF_CAIF"},
    {AF_ALG, "AF_ALG"},               {AF_NFC, "AF_NFC"},
    {AF_VSOCK, "AF_VSOCK"},           {AF_KCM, "AF_KCM"},
    {AF_QIPCRTR, "AF_QIPCRTR"},       {AF_SMC, "AF_SMC"},
    {AF_XDP, "AF_XDP"},               {AF_MCTP, "AF_MCTP"},
};
constexpr Name kSocketTypeNames[] = {
    {SOCK_STREAM, "SOCK_STREAM"},       {SOCK_DGRAM, "SOCK_DGRAM"},
    {SOCK_RAW, "SOCK_RAW"},             {SOCK_RDM, "SOCK_RDM"},
    {SOCK_SEQPACKET, "SOCK_SEQPACKET"}, {SOCK_DCCP, "SOCK_DCCP"},
    {SOCK_PACKET, "SOCK_PACKET"},
};
constexpr Name kSocketFlagNames[] = {
    {SOCK_NONBLOCK, "SOCK_NONBLOCK"}, {SOCK_CLOEXEC, "SOCK_CLOEXEC"}};
constexpr Name kMsgFlagNames[] = {
    {MSG_OOB, "MSG_OOB"},                   {MSG_PEEK, "MSG_PEEK"},
    {MSG_DONTROUTE, "MSG_DONTROUTE"},       {MSG_CTRUNC, "MSG_CTRUNC"},
    {MSG_PROXY, "MSG_PROXY"},               {MSG_TRUNC, "MSG_TRUNC"},
    {MSG_DONTWAIT, "MSG_DONTWAIT"},         {MSG_EOR, "MSG_EOR"},
    {MSG_WAITALL, "MSG_WAITALL"},           {MSG_FIN, "MSG_FIN"},
    {MSG_SYN, "MSG_SYN"},                   {MSG_CONFIRM, "MSG_CONFIRM"},
    {MSG_RST, "MSG_RST"},                   {MSG_ERRQUEUE, "MSG_ERRQUEUE"},
    {MSG_NOSIGNAL, "MSG_NOSIGNAL"},         {MSG_MORE, "MSG_MORE"},
    {MSG_WAITFORONE, "MSG_WAITFORONE"},     {MSG_BATCH, "MSG_BATCH"},
    {MSG_ZEROCOPY, "MSG_ZEROCOPY"},         {MSG_FASTOPEN, "MSG_FASTOPEN"},
    {MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
};
constexpr Name kShutdownHowNames[] = {
    {SHUT_RD, "SHUT_RD"}, {SHUT_WR, "SHUT_WR"}, {SHUT_RDWR, "SHUT_RDWR"}};

constexpr Name kSigprocmaskHowNames[] = {
    {SIG_BLOCK, "SIG_BLOCK"}, {SIG_UNBLOCK, "SIG_UNBLOCK"}, {SIG_SETMASK, "SIG_SETMASK"}};
// include/uapi/linux/sched.h; the low byte (CSIGNAL) is the exit signal, printed last.
constexpr Name kCloneFlagNames[] = {
    {0x100, "CLONE_VM"},
    {0x200, "CLONE_FS"},
    {0x400, "CLONE_FILES"},
    {0x800, "CLONE_SIGHAND"},
    {0x1000, "CLONE_PIDFD"},
    {0x2000, "CLONE_PTRACE"},
    {0x4000, "CLONE_VFORK"},
    {0x8000, "CLONE_PARENT"},
    {0x10000, "CLONE_THREAD"},
    {0x20000, "CLONE_NEWNS"},
    {0x40000, "CLONE_SYSVSEM"},
    {0x80000, "CLONE_SETTLS"},
    {0x100000, "CLONE_PARENT_SETTID"},
    {0x200000, "CLONE_CHILD_CLEARTID"},
    {0x400000, "CLONE_DETACHED"},
    {0x800000, "CLONE_UNTRACED"},
    {0x1000000, "CLONE_CHILD_SETTID"},
    {0x2000000, "CLONE_NEWCGROUP"},
    {0x4000000, "CLONE_NEWUTS"},
    {0x8000000, "CLONE_NEWIPC"},
    {0x10000000, "CLONE_NEWUSER"},
    {0x20000000, "CLONE_NEWPID"},
    {0x40000000, "CLONE_NEWNET"},
    {0x80000000, "CLONE_IO"},
};
constexpr Name kWaitOptionNames[] = {
    {WNOHANG, "WNOHANG"},        {WUNTRACED, "WUNTRACED"},    {WEXITED, "WEXITED"},
    {WCONTINUED, "WCONTINUED"},  {WNOWAIT, "WNOWAIT"},        {0x20000000, "__WNOTHREAD"},
    {0x40000000, "__WALL"},      {0x80000000, "__WCLONE"},
};

constexpr Name kProtFlagNames[] = {
    {PROT_READ, "PROT_READ"},           {PROT_WRITE, "PROT_WRITE"},
    {PROT_EXEC, "PROT_EXEC"},           {0x8, "PROT_SEM"},
    {PROT_GROWSDOWN, "PROT_GROWSDOWN"}, {PROT_GROWSUP, "PROT_GROWSUP"},
};
constexpr uint64_t kMapTypeMask = 0x0f;
constexpr Name kMapTypeNames[] = {
    {MAP_SHARED, "MAP_SHARED"}, {MAP_PRIVATE, "MAP_PRIVATE"}, {0x03, "MAP_SHARED_VALIDATE"}};
constexpr Name kMmapFlagNames[] = {
    {MAP_FIXED, "MAP_FIXED"},           {MAP_ANONYMOUS, "MAP_ANONYMOUS"},
    {MAP_32BIT, "MAP_32BIT"},           {MAP_GROWSDOWN, "MAP_GROWSDOWN"},
    {MAP_DENYWRITE, "MAP_DENYWRITE"},   {MAP_EXECUTABLE, "MAP_EXECUTABLE"},
    {MAP_LOCKED, "MAP_LOCKED"},         {MAP_NORESERVE, "MAP_NORESERVE"},
    {MAP_POPULATE, "MAP_POPULATE"},     {MAP_NONBLOCK, "MAP_NONBLOCK"},
    {MAP_STACK, "MAP_STACK"},           {MAP_HUGETLB, "MAP_HUGETLB"},
    {0x80000, "MAP_SYNC"},              {0x100000, "MAP_FIXED_NOREPLACE"},
};

constexpr Name kWhenceNames[] = {
    {SEEK_SET, "SEEK_SET"},   {SEEK_CUR, "SEEK_CUR"},   {SEEK_END, "SEEK_END"},
    {SEEK_DATA, "SEEK_DATA"}, {SEEK_HOLE, "SEEK_HOLE"},
};
// include/uapi/asm-generic/fcntl.h and linux/fcntl.h.
constexpr Name kFcntlCmdNames[] = {
    {0, "F_DUPFD"},               {1, "F_GETFD"},               {2, "F_SETFD"},
    {3, "F_GETFL"},               {4, "F_SETFL"},               {5, "F_GETLK"},
    {6, "F_SETLK"},               {7, "F_SETLKW"},              {8, "F_SETOWN"},
    {9, "F_GETOWN"},              {10, "F_SETSIG"},             {11, "F_GETSIG"},
    {15, "F_SETOWN_EX"},          {16, "F_GETOWN_EX"},          {17, "F_GETOWNER_UIDS"},
    {36, "F_OFD_GETLK"},          {37, "F_OFD_SETLK"},          {38, "F_OFD_SETLKW"},
    {1024, "F_SETLEASE"},         {1025, "F_GETLEASE"},         {1026, "F_NOTIFY"},
    {1030, "F_DUPFD_CLOEXEC"},    {1031, "F_SETPIPE_SZ"},       {1032, "F_GETPIPE_SZ"},
    {1033, "F_ADD_SEALS"},        {1034, "F_GET_SEALS"},        {1035, "F_GET_RW_HINT"},
    {1036, "F_SET_RW_HINT"},      {1037, "F_GET_FILE_RW_HINT"}, {1038, "F_SET_FILE_RW_HINT"},
};
constexpr Name kClockIdNames[] = {
    {CLOCK_REALTIME, "CLOCK_REALTIME"},
    {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
    {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
    {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
    {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
    {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
    {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
    {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
    {CLOCK_REALTIME_ALARM, "CLOCK_REALTIME_ALARM"},
    {CLOCK_BOOTTIME_ALARM, "CLOCK_BOOTTIME_ALARM"},
    {CLOCK_TAI, "CLOCK_TAI"},
};
constexpr Name kTimerFlagNames[] = {{TIMER_ABSTIME, "TIMER_ABSTIME"}};
// socket(2)'s protocol, by family (strace names IPPROTO_IP for 0 in the inet families).
constexpr Name kInetProtocolNames[] = {
    {0, "IPPROTO_IP"},        {1, "IPPROTO_ICMP"},      {2, "IPPROTO_IGMP"},
    {6, "IPPROTO_TCP"},       {17, "IPPROTO_UDP"},      {41, "IPPROTO_IPV6"},
    {58, "IPPROTO_ICMPV6"},   {132, "IPPROTO_SCTP"},    {136, "IPPROTO_UDPLITE"},
    {255, "IPPROTO_RAW"},     {262, "IPPROTO_MPTCP"},
};
constexpr Name kNetlinkProtocolNames[] = {
    {0, "NETLINK_ROUTE"},           {2, "NETLINK_USERSOCK"},   {4, "NETLINK_SOCK_DIAG"},
    {5, "NETLINK_NFLOG"},           {6, "NETLINK_XFRM"},       {7, "NETLINK_SELINUX"},
    {8, "NETLINK_ISCSI"},           {9, "NETLINK_AUDIT"},      {10, "NETLINK_FIB_LOOKUP"},
    {11, "NETLINK_CONNECTOR"},      {12, "NETLINK_NETFILTER"}, {13, "NETLINK_IP6_FW"},
    {14, "NETLINK_DNRTMSG"},        {15, "NETLINK_KOBJECT_UEVENT"}, {16, "NETLINK_GENERIC"},
    {18, "NETLINK_SCSITRANSPORT"},  {19, "NETLINK_ECRYPTFS"},  {20, "NETLINK_RDMA"},
    {21, "NETLINK_CRYPTO"},
};
// setsockopt(2) levels as strace names them (SOL_TCP for IPPROTO_TCP, include/linux/socket.h).
constexpr Name kSockoptLevelNames[] = {
    {0, "SOL_IP"},      {1, "SOL_SOCKET"},  {6, "SOL_TCP"},     {17, "SOL_UDP"},
    {41, "SOL_IPV6"},   {58, "SOL_ICMPV6"}, {132, "SOL_SCTP"},  {255, "SOL_RAW"},
    {263, "SOL_PACKET"}, {270, "SOL_NETLINK"}, {282, "SOL_TLS"}, {284, "SOL_MPTCP"},
};
// Option names per level (include/uapi/asm-generic/socket.h, linux/tcp.h, linux/in.h, linux/in6.h).
constexpr Name kSolSocketNames[] = {
    {1, "SO_DEBUG"},          {2, "SO_REUSEADDR"},      {3, "SO_TYPE"},
    {4, "SO_ERROR"},          {5, "SO_DONTROUTE"},      {6, "SO_BROADCAST"},
    {7, "SO_SNDBUF"},         {8, "SO_RCVBUF"},         {9, "SO_KEEPALIVE"},
    {10, "SO_OOBINLINE"},     {11, "SO_NO_CHECK"},      {12, "SO_PRIORITY"},
    {13, "SO_LINGER"},        {14, "SO_BSDCOMPAT"},     {15, "SO_REUSEPORT"},
    {16, "SO_PASSCRED"},      {17, "SO_PEERCRED"},      {18, "SO_RCVLOWAT"},
    {19, "SO_SNDLOWAT"},      {20, "SO_RCVTIMEO_OLD"},  {21, "SO_SNDTIMEO_OLD"},
    {25, "SO_BINDTODEVICE"},  {26, "SO_ATTACH_FILTER"}, {27, "SO_DETACH_FILTER"},
    {28, "SO_PEERNAME"},      {29, "SO_TIMESTAMP_OLD"}, {30, "SO_ACCEPTCONN"},
    {31, "SO_PEERSEC"},       {32, "SO_SNDBUFFORCE"},   {33, "SO_RCVBUFFORCE"},
    {34, "SO_PASSSEC"},       {36, "SO_MARK"},          {38, "SO_PROTOCOL"},
    {39, "SO_DOMAIN"},        {40, "SO_RXQ_OVFL"},      {46, "SO_BUSY_POLL"},
    {49, "SO_INCOMING_CPU"},  {50, "SO_ATTACH_BPF"},    {57, "SO_COOKIE"},
    {59, "SO_PEERGROUPS"},    {60, "SO_ZEROCOPY"},
};
constexpr Name kSolTcpNames[] = {
    {1, "TCP_NODELAY"},       {2, "TCP_MAXSEG"},        {3, "TCP_CORK"},
    {4, "TCP_KEEPIDLE"},      {5, "TCP_KEEPINTVL"},     {6, "TCP_KEEPCNT"},
    {7, "TCP_SYNCNT"},        {8, "TCP_LINGER2"},       {9, "TCP_DEFER_ACCEPT"},
    {10, "TCP_WINDOW_CLAMP"}, {11, "TCP_INFO"},         {12, "TCP_QUICKACK"},
    {13, "TCP_CONGESTION"},   {18, "TCP_USER_TIMEOUT"}, {23, "TCP_FASTOPEN"},
    {25, "TCP_NOTSENT_LOWAT"}, {30, "TCP_FASTOPEN_CONNECT"},
};
constexpr Name kSolIpNames[] = {
    {1, "IP_TOS"},            {2, "IP_TTL"},            {3, "IP_HDRINCL"},
    {4, "IP_OPTIONS"},        {8, "IP_PKTINFO"},        {10, "IP_MTU_DISCOVER"},
    {11, "IP_RECVERR"},       {12, "IP_RECVTTL"},       {13, "IP_RECVTOS"},
    {15, "IP_FREEBIND"},      {19, "IP_TRANSPARENT"},   {24, "IP_BIND_ADDRESS_NO_PORT"},
    {32, "IP_MULTICAST_IF"},  {33, "IP_MULTICAST_TTL"}, {34, "IP_MULTICAST_LOOP"},
    {35, "IP_ADD_MEMBERSHIP"}, {36, "IP_DROP_MEMBERSHIP"},
};
constexpr Name kSolIpv6Names[] = {
    {16, "IPV6_UNICAST_HOPS"},   {17, "IPV6_MULTICAST_IF"},  {18, "IPV6_MULTICAST_HOPS"},
    {19, "IPV6_MULTICAST_LOOP"}, {20, "IPV6_ADD_MEMBERSHIP"}, {21, "IPV6_DROP_MEMBERSHIP"},
    {23, "IPV6_MTU_DISCOVER"},   {25, "IPV6_RECVERR"},       {26, "IPV6_V6ONLY"},
    {49, "IPV6_RECVPKTINFO"},    {67, "IPV6_TCLASS"},
};
// st_mode's file types (inode(7)).
constexpr Name kFileTypeNames[] = {
    {S_IFREG, "S_IFREG"}, {S_IFDIR, "S_IFDIR"},   {S_IFCHR, "S_IFCHR"}, {S_IFBLK, "S_IFBLK"},
    {S_IFIFO, "S_IFIFO"}, {S_IFLNK, "S_IFLNK"},   {S_IFSOCK, "S_IFSOCK"},
};
constexpr Name kModeBitNames[] = {{S_ISUID, "S_ISUID"}, {S_ISGID, "S_ISGID"}, {S_ISVTX, "S_ISVTX"}};
// clang-format on

// Kinds that are one symbolic value or a plain set of flags, rendered from their table alone.
struct SymbolicKind {
  ArgKind kind;
  bool is_flags;  // flags: "A|B|0x40"; otherwise one name, or the number
  std::span<const Name> names;
  std::string_view zero = {};  // flags: the name of 0 ("F_OK"), when it has one
};
constexpr SymbolicKind kSymbolicKinds[] = {
    {kFdFlags, true, kOpenFlagNames},
    {kAtFlags, true, kAtFlagNames},
    {kAccessAtFlags, true, kAccessAtFlagNames},
    {kAccessMode, true, kAccessModeNames, "F_OK"},
    {kRenameFlags, true, kRenameFlagNames},
    {kSocketFamily, false, kSocketFamilyNames},
    {kSocketFlags, true, kSocketFlagNames},
    {kMsgFlags, true, kMsgFlagNames},
    {kShutdownHow, false, kShutdownHowNames},
    {kSigprocmaskHow, false, kSigprocmaskHowNames},
    {kWaitOptions, true, kWaitOptionNames},
    {kProtFlags, true, kProtFlagNames, "PROT_NONE"},
    {kWhence, false, kWhenceNames},
    {kFcntlCmd, false, kFcntlCmdNames},
    {kClockId, false, kClockIdNames},
    {kTimerFlags, true, kTimerFlagNames},
};

constexpr size_t kMaxStringRead = 4096;  // PATH_MAX: what the kernel itself would accept
// A data buffer is read from the guest in pieces of at most this many bytes.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxArrayEntries = 32;  // of argv/envp

// "0x1f" as printf's %#llx, which prints 0 as "0" (fmt's '#' would give "0x0").
std::string Hex(uint64_t v) { return v == 0 ? "0" : fmt::format("{:#x}", v); }

std::string_view Lookup(uint64_t value, std::span<const Name> names) {
  for (const Name& n : names) {
    if (n.value == value) {
      return n.name;
    }
  }
  return {};
}

// Appends the names of the flags set in `value`, then any bits left unnamed in hex.
void AppendFlags(std::string& out, uint64_t value, std::span<const Name> names) {
  for (const Name& n : names) {
    if (n.value != 0 && (value & n.value) == n.value) {
      if (!out.empty()) {
        out += '|';
      }
      out += n.name;
      value &= ~n.value;
    }
  }
  if (value != 0) {
    if (!out.empty()) {
      out += '|';
    }
    out += Hex(value);
  }
}

std::string FlagsText(uint64_t value, std::span<const Name> names, std::string_view zero) {
  std::string out;
  AppendFlags(out, value, names);
  if (out.empty()) {
    out = zero.empty() ? "0" : zero;
  }
  return out;
}

// Appends `s` escaped as strace shows strings: C escapes, octal for other non-printable bytes
// (three digits when a digit follows, so "\1" "7" cannot read as "\17").
void AppendEscaped(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          bool digit_follows = i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7';
          out += digit_follows ? fmt::format("\\{:03o}", c) : fmt::format("\\{:o}", c);
        }
    }
  }
}

// `s` quoted, cut to `shown` bytes with "..." after the closing quote, as strace does.
std::string Quoted(std::string_view s, size_t shown = kDefaultShownBytes) {
  std::string out = "\"";
  AppendEscaped(out, s.substr(0, shown));
  out += '"';
  if (s.size() > shown) {
    out += "...";
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) {
      return false;
    }
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are invalid too.
    constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += len;
  }
  return true;
}

// A guest string as a JSON string. nlohmann::json::dump() throws on invalid UTF-8, so such
// strings are stored escaped, as `text` shows them.
nlohmann::json JsonString(std::string_view s) {
  if (IsValidUtf8(s)) {
    return std::string(s);
  }
  std::string escaped;
  AppendEscaped(escaped, s);
  return escaped;
}

DecodedArg Number(int64_t v) { return {std::to_string(v), v}; }
DecodedArg Unsigned(uint64_t v) { return {std::to_string(v), v}; }
DecodedArg HexArg(uint64_t v) { return {Hex(v), Hex(v)}; }
DecodedArg Pointer(uint64_t v) {
  return v == 0 ? DecodedArg{"NULL", nullptr} : DecodedArg{Hex(v), Hex(v)};
}
DecodedArg Symbol(std::string text) {
  nlohmann::json json = text;
  return {std::move(text), std::move(json)};
}

DecodedArg FailedRead(uint64_t addr, const Error& error) {
  return {Hex(addr), {{"ptr", Hex(addr)}, {"error", ErrnoName(error.code)}}};
}

DecodedArg StringArg(uint64_t addr, GuestMemory& mem, size_t shown) {
  if (addr == 0) {
    return Pointer(addr);
  }
  // ENAMETOOLONG (no NUL within PATH_MAX) is shown as a failed read: the kernel would refuse
  // such a path with the same error.
  Result<std::string> s = mem.ReadString(addr, kMaxStringRead);
  if (!s) {
    return FailedRead(addr, s.error());
  }
  return {Quoted(*s, shown), JsonString(*s)};
}

// The first min(len, shown) bytes at `addr`, quoted, with "..." when the buffer is longer (or
// the rest was unreadable). Reads only those bytes, in pieces of kReadChunk.
DecodedArg BufferArg(uint64_t addr, uint64_t len, GuestMemory& mem, size_t shown) {
  if (addr == 0) {
    return Pointer(addr);
  }
  const size_t want = static_cast<size_t>(std::min<uint64_t>(len, shown));
  std::string data(want, '\0');
  size_t got = 0;
  while (got < want) {
    const size_t piece = std::min(kReadChunk, want - got);
    Result<size_t> n =
        mem.Read(addr + got, std::as_writable_bytes(std::span(data)).subspan(got, piece));
    if (!n) {
      if (got == 0) {
        return FailedRead(addr, n.error());
      }
      break;  // what was read is shown; the unreadable rest is the "..."
    }
    got += *n;
    if (*n < piece) {
      break;  // the end of a mapping
    }
  }
  data.resize(got);
  std::string text = "\"";
  AppendEscaped(text, data);
  text += '"';
  if (len > got) {
    text += "...";
  }
  nlohmann::json json = JsonString(data);
  return {std::move(text), std::move(json)};
}

DecodedArg StringArrayArg(uint64_t addr, GuestMemory& mem, size_t shown) {
  if (addr == 0) {
    return Pointer(addr);
  }
  // One read for the entries shown plus one more, to tell a full array from a longer one.
  std::array<uint64_t, kMaxArrayEntries + 1> ptrs{};
  Result<size_t> n = mem.Read(addr, std::as_writable_bytes(std::span(ptrs)));
  if (!n) {
    return FailedRead(addr, n.error());
  }
  size_t available = *n / sizeof(uint64_t);
  std::string text = "[";
  nlohmann::json json = nlohmann::json::array();
  bool terminated = false;
  for (size_t i = 0; i < available && i < kMaxArrayEntries; ++i) {
    if (ptrs[i] == 0) {
      terminated = true;
      break;
    }
    DecodedArg entry = StringArg(ptrs[i], mem, shown);
    text += i == 0 ? "" : ", ";
    text += entry.text;
    json.push_back(std::move(entry.json));
  }
  // Unterminated: more than kMaxArrayEntries entries, or the array runs into unreadable memory.
  if (!terminated && !(available > kMaxArrayEntries && ptrs[kMaxArrayEntries] == 0)) {
    text += json.empty() ? "..." : ", ...";
    json.push_back("...");
  }
  text += ']';
  return {std::move(text), std::move(json)};
}

// The environment is long and rarely what a trace reader wants: count it, as strace does.
DecodedArg EnvArrayArg(uint64_t addr, GuestMemory& mem) {
  if (addr == 0) {
    return Pointer(addr);
  }
  constexpr size_t kMaxVars = 4096;
  std::array<uint64_t, 64> ptrs{};
  size_t count = 0;
  for (uint64_t at = addr; count < kMaxVars; at += sizeof ptrs) {
    Result<size_t> n = mem.Read(at, std::as_writable_bytes(std::span(ptrs)));
    if (!n) {
      return FailedRead(addr, n.error());
    }
    size_t available = *n / sizeof(uint64_t);
    for (size_t i = 0; i < available; ++i) {
      if (ptrs[i] == 0) {
        return {fmt::format("{:#x} /* {} vars */", addr, count), {{"vars", count}}};
      }
      ++count;
    }
    if (available < ptrs.size()) {
      break;  // the array runs into unreadable memory
    }
  }
  return {fmt::format("{:#x} /* {}+ vars */", addr, count), {{"vars", count}, {"truncated", true}}};
}

DecodedArg SockaddrText(uint64_t addr, uint32_t len, GuestMemory& mem) {
  if (addr == 0) {
    return Pointer(addr);
  }
  Result<std::optional<SocketAddress>> read = ReadSockaddr(mem, SockaddrRef{addr, len});
  if (!read) {
    return FailedRead(addr, read.error());
  }
  if (!*read) {
    return Pointer(addr);  // too short to hold even a family
  }
  const SocketAddress& a = **read;
  std::string_view family_name = Lookup(static_cast<uint64_t>(a.family), kSocketFamilyNames);
  std::string family = family_name.empty() ? std::to_string(a.family) : std::string(family_name);
  nlohmann::json json = {{"family", family}};
  if (a.family == AF_INET && a.complete) {
    char ip[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, a.ip.data(), ip, sizeof(ip));
    json["addr"] = ip;
    json["port"] = a.port;
    return {fmt::format("{{{}, {}:{}}}", family, ip, a.port), std::move(json)};
  }
  if (a.family == AF_INET6 && a.complete) {
    char ip[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, a.ip.data(), ip, sizeof(ip));
    std::string host = ip;
    if (a.scope_id != 0) {  // link-local addresses name their interface
      host += fmt::format("%{}", a.scope_id);
    }
    json["addr"] = host;
    json["port"] = a.port;
    return {fmt::format("{{{}, [{}]:{}}}", family, host, a.port), std::move(json)};
  }
  if (a.family == AF_UNIX) {
    if (a.unix_path.empty()) {
      json["path"] = "";
      return {fmt::format("{{{}}}", family), std::move(json)};
    }
    if (a.abstract) {
      std::string_view name = std::string_view(a.unix_path).substr(1);
      std::string text = fmt::format("{{{}, @", family);
      text += Quoted(name);
      text += '}';
      nlohmann::json name_json = JsonString(name);
      json["path"] = "@" + name_json.get<std::string>();
      return {std::move(text), std::move(json)};
    }
    json["path"] = JsonString(a.unix_path);
    return {fmt::format("{{{}, {}}}", family, Quoted(a.unix_path)), std::move(json)};
  }
  return {fmt::format("{{{}}}", family), std::move(json)};
}

// Kernel numbering (signal(7)): 32 is SIGRTMIN, then SIGRT_1..SIGRT_32, as strace prints them;
// glibc's SIGRTMIN is 34 because it keeps two for itself.
std::string SignalName(uint64_t sig) {
  if (sig > 0 && sig < 32) {
    if (const char* abbrev = sigabbrev_np(static_cast<int>(sig))) {
      return fmt::format("SIG{}", abbrev);
    }
  } else if (sig == 32) {
    return "SIGRTMIN";
  } else if (sig > 32 && sig <= 64) {
    return fmt::format("SIGRT_{}", sig - 32);
  }
  return {};
}

DecodedArg SignalArg(uint64_t sig) {
  std::string name = SignalName(sig);
  return name.empty() ? Number(static_cast<int32_t>(sig)) : Symbol(std::move(name));
}

DecodedArg OpenFlagsArg(uint64_t flags) {
  std::string text(Lookup(flags & O_ACCMODE, kOpenAccessNames));
  AppendFlags(text, flags & ~static_cast<uint64_t>(O_ACCMODE), kOpenFlagNames);
  return Symbol(std::move(text));
}

DecodedArg ModeArg(uint64_t mode) {
  std::string text = fmt::format("0{:02o}", mode & 07777);
  if ((mode & ~07777ull) != 0) {
    text = fmt::format("{}|{}", Hex(mode & ~07777ull), text);
  }
  return Symbol(std::move(text));
}

DecodedArg SocketTypeArg(uint64_t type) {
  std::string_view base = Lookup(type & 0xf, kSocketTypeNames);
  std::string text = base.empty() ? std::to_string(type & 0xf) : std::string(base);
  AppendFlags(text, type & ~0xfull, kSocketFlagNames);
  return Symbol(std::move(text));
}

DecodedArg CloneFlagsArg(uint64_t flags) {
  std::string text;
  AppendFlags(text, flags & ~0xffull, kCloneFlagNames);
  if (uint64_t sig = flags & 0xff; sig != 0) {
    std::string name = SignalName(sig);
    text += text.empty() ? "" : "|";
    text += name.empty() ? std::to_string(sig) : name;
  }
  return Symbol(text.empty() ? "0" : std::move(text));
}

DecodedArg MmapFlagsArg(uint64_t flags) {
  std::string_view type = Lookup(flags & kMapTypeMask, kMapTypeNames);
  std::string text = type.empty() ? Hex(flags & kMapTypeMask) : std::string(type);
  AppendFlags(text, flags & ~kMapTypeMask, kMmapFlagNames);
  return Symbol(std::move(text));
}


// Reads one object of type T from the guest; nullopt when not all of it could be read.
template <typename T>
std::optional<T> ReadObject(uint64_t addr, GuestMemory& mem) {
  T value{};
  Result<size_t> n = mem.Read(addr, std::as_writable_bytes(std::span(&value, 1)));
  if (!n || *n != sizeof(T)) {
    return std::nullopt;
  }
  return value;
}

// An object the decoder could not read: the pointer, as strace shows it.
DecodedArg Unreadable(uint64_t addr) {
  return {Hex(addr), {{"ptr", Hex(addr)}, {"error", "EFAULT"}}};
}

DecodedArg TimespecArg(uint64_t addr, GuestMemory& mem) {
  if (addr == 0) {
    return Pointer(addr);
  }
  std::optional<timespec> ts = ReadObject<timespec>(addr, mem);
  if (!ts) {
    return Unreadable(addr);
  }
  return {fmt::format("{{tv_sec={}, tv_nsec={}}}", ts->tv_sec, ts->tv_nsec),
          {{"tv_sec", ts->tv_sec}, {"tv_nsec", ts->tv_nsec}}};
}

// st_mode as strace writes it: S_IFREG|0644, S_IFDIR|S_ISVTX|0777.
std::string FileModeText(uint64_t mode) {
  std::string_view type = Lookup(mode & S_IFMT, kFileTypeNames);
  std::string text = type.empty() ? Hex(mode & S_IFMT) : std::string(type);
  AppendFlags(text, mode & (S_ISUID | S_ISGID | S_ISVTX), kModeBitNames);
  const uint64_t perm = mode & 0777;
  return text + (perm == 0 ? "|000" : fmt::format("|0{:02o}", perm));
}

// struct stat, abbreviated as strace prints it without -v: the type and permissions, then the
// size, or the device number of a device.
DecodedArg StatArg(uint64_t addr, GuestMemory& mem) {
  if (addr == 0) {
    return Pointer(addr);
  }
  std::optional<struct stat> st = ReadObject<struct stat>(addr, mem);
  if (!st) {
    return Unreadable(addr);
  }
  const std::string mode = FileModeText(st->st_mode);
  nlohmann::json json = {{"st_mode", mode}, {"st_size", st->st_size}};
  if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
    json["st_rdev"] = st->st_rdev;
    return {fmt::format("{{st_mode={}, st_rdev=makedev({:#x}, {:#x}), ...}}", mode,
                        major(st->st_rdev), minor(st->st_rdev)),
            std::move(json)};
  }
  return {fmt::format("{{st_mode={}, st_size={}, ...}}", mode, st->st_size), std::move(json)};
}

// A wait(2) status as strace spells it, with the macros that take it apart.
std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) {
    return fmt::format("[{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}]", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    std::string sig = SignalName(static_cast<uint64_t>(WTERMSIG(status)));
    return fmt::format("[{{WIFSIGNALED(s) && WTERMSIG(s) == {}{}}}]",
                       sig.empty() ? std::to_string(WTERMSIG(status)) : sig,
                       WCOREDUMP(status) ? " && WCOREDUMP(s)" : "");
  }
  if (WIFSTOPPED(status)) {
    std::string sig = SignalName(static_cast<uint64_t>(WSTOPSIG(status)));
    return fmt::format("[{{WIFSTOPPED(s) && WSTOPSIG(s) == {}}}]",
                       sig.empty() ? std::to_string(WSTOPSIG(status)) : sig);
  }
  if (WIFCONTINUED(status)) {
    return "[{WIFCONTINUED(s)}]";
  }
  return fmt::format("[{:#x}]", static_cast<unsigned>(status));
}

DecodedArg IntsArg(uint64_t addr, GuestMemory& mem, size_t count) {
  if (addr == 0) {
    return Pointer(addr);
  }
  std::array<int32_t, 2> v{};
  Result<size_t> n = mem.Read(addr, std::as_writable_bytes(std::span(v)).first(count * 4));
  if (!n || *n != count * 4) {
    return Unreadable(addr);
  }
  if (count == 1) {
    return {fmt::format("[{}]", v[0]), nlohmann::json::array({v[0]})};
  }
  return {fmt::format("[{}, {}]", v[0], v[1]), nlohmann::json::array({v[0], v[1]})};
}

// setsockopt's value: an int shown as strace shows it ([1]); other sizes stay a pointer.
DecodedArg SockoptValueArg(uint64_t addr, uint64_t len, GuestMemory& mem) {
  return static_cast<uint32_t>(len) == sizeof(int32_t) ? IntsArg(addr, mem, 1) : Pointer(addr);
}

std::span<const Name> SockoptNamesOf(uint64_t level) {
  switch (static_cast<int32_t>(level)) {
    case 0:
      return kSolIpNames;
    case 1:
      return kSolSocketNames;
    case 6:
      return kSolTcpNames;
    case 41:
      return kSolIpv6Names;
    default:
      return {};
  }
}

DecodedArg SocketProtocolArg(uint64_t family, uint64_t protocol) {
  std::span<const Name> names;
  if (family == AF_INET || family == AF_INET6) {
    names = kInetProtocolNames;
  } else if (family == AF_NETLINK) {
    names = kNetlinkProtocolNames;
  }
  std::string_view name = Lookup(static_cast<uint32_t>(protocol), names);
  return name.empty() ? Number(static_cast<int32_t>(protocol)) : Symbol(std::string(name));
}

// struct clone_args (linux/sched.h), the fields strace shows: those the flags make meaningful,
// then exit_signal, stack and stack_size.
DecodedArg CloneArgsArg(uint64_t addr, uint64_t size, GuestMemory& mem) {
  if (addr == 0) {
    return Pointer(addr);
  }
  std::array<uint64_t, 11> a{};  // flags, pidfd, child_tid, parent_tid, exit_signal, stack,
                                 // stack_size, tls, set_tid, set_tid_size, cgroup
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size, sizeof a));
  if (want < 64) {  // CLONE_ARGS_SIZE_VER0: the kernel refuses less with EINVAL
    return Pointer(addr);
  }
  Result<size_t> n = mem.Read(addr, std::as_writable_bytes(std::span(a)).first(want));
  if (!n || *n != want) {
    return Unreadable(addr);
  }
  const uint64_t flags = a[0];
  std::string text = "{flags=" + CloneFlagsArg(flags).text;
  if ((flags & CLONE_PIDFD) != 0) {
    text += fmt::format(", pidfd={}", Hex(a[1]));
  }
  if ((flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) != 0) {
    text += fmt::format(", child_tid={}", Hex(a[2]));
  }
  if ((flags & CLONE_PARENT_SETTID) != 0) {
    text += fmt::format(", parent_tid={}", Hex(a[3]));
  }
  std::string sig = SignalName(a[4]);
  text += fmt::format(", exit_signal={}, stack={}, stack_size={}",
                      sig.empty() ? std::to_string(a[4]) : sig, Hex(a[5]), Hex(a[6]));
  if ((flags & CLONE_SETTLS) != 0) {
    text += fmt::format(", tls={}", Hex(a[7]));
  }
  text += '}';
  nlohmann::json json = {{"flags", CloneFlagsArg(flags).text}, {"exit_signal", a[4]},
                         {"stack", Hex(a[5])}, {"stack_size", a[6]}};
  return {std::move(text), std::move(json)};
}

DecodedArg SymbolicArg(const SymbolicKind& kind, uint64_t value) {
  if (kind.is_flags) {
    return Symbol(FlagsText(value, kind.names, kind.zero));
  }
  std::string_view name = Lookup(value, kind.names);
  return name.empty() ? Number(static_cast<int32_t>(value)) : Symbol(std::string(name));
}

DecodedArg DecodeOne(ArgKind kind, const SyscallEvent& ev, size_t i, GuestMemory& mem,
                     size_t shown) {
  uint64_t v = ev.args[i];
  // Only ever read for the kinds documented as "len", which no table entry puts last.
  uint64_t next = i + 1 < ev.args.size() ? ev.args[i + 1] : 0;
  // The level of a socket option, before its name.
  uint64_t prev = i > 0 ? ev.args[i - 1] : 0;
  // int arguments: the kernel uses the low 32 bits of the register (the rest may be garbage).
  auto as_int = static_cast<int32_t>(static_cast<uint32_t>(v));
  switch (kind) {
    case kNone:
    case kHex:
      return HexArg(v);
    case kInt:
    case kFd:
      return Number(as_int);
    case kUInt:
      return Unsigned(static_cast<uint32_t>(v));
    case kLong:
      return Number(static_cast<int64_t>(v));
    case kSize:
      return Unsigned(v);
    case kPtr:
    case kMsghdr:
    case kMmsghdrs:
    case kOpenHow:
    case kStatOut:
    case kTimespecOut:
    case kWaitStatusOut:
    case kFdPairOut:
    case kReadBuffer:
    case kIntOut:
    case kSocklenInOut:
      return Pointer(v);  // not written yet: DecodeReturned reads them
    case kTimespec:
      return TimespecArg(v, mem);
    case kSocketProtocol:
      return SocketProtocolArg(static_cast<uint32_t>(ev.args[0]), v);  // the family
    case kSockoptLevel: {
      std::string_view name = Lookup(static_cast<uint32_t>(v), kSockoptLevelNames);
      return name.empty() ? Number(as_int) : Symbol(std::string(name));
    }
    case kSockoptName: {
      std::string_view name = Lookup(static_cast<uint32_t>(v), SockoptNamesOf(prev));
      return name.empty() ? Number(as_int) : Symbol(std::string(name));
    }
    case kSockoptValue:
      return SockoptValueArg(v, next, mem);
    case kCloneArgs:
      return CloneArgsArg(v, next, mem);
    case kDirFd:
      return as_int == AT_FDCWD ? Symbol("AT_FDCWD") : Number(as_int);
    case kPath:
      return StringArg(v, mem, std::min(shown, kMaxStringRead));
    case kBuffer:
      return BufferArg(v, next, mem, shown);
    case kStringArray:
      return StringArrayArg(v, mem, std::min(shown, kMaxStringRead));
    case kEnvArray:
      return EnvArrayArg(v, mem);
    case kSockaddr:
      return SockaddrText(v, static_cast<uint32_t>(next), mem);
    case kOpenFlags:
      return OpenFlagsArg(v);
    case kOpenMode:
    case kMode:
      return ModeArg(v);
    case kSocketType:
      return SocketTypeArg(v);
    case kSignal:
      return SignalArg(v);
    case kCloneFlags:
      return CloneFlagsArg(v);
    case kMmapFlags:
      return MmapFlagsArg(v);
    default:
      break;
  }
  for (const SymbolicKind& symbolic : kSymbolicKinds) {
    if (symbolic.kind == kind) {
      return SymbolicArg(symbolic, v);
    }
  }
  return HexArg(v);  // unreachable while every kind has a row above
}

bool IsNativeArch(uint32_t arch) { return arch == 0 || arch == AUDIT_ARCH_X86_64; }

std::optional<int> ErrorOf(int64_t result) {
  if (result >= -4095 && result <= -1) {  // the kernel's error range (IS_ERR_VALUE)
    return static_cast<int>(-result);
  }
  return std::nullopt;
}

}  // namespace

size_t DecodeLimits::shown() const {
  return std::clamp(shown_bytes, kDefaultShownBytes, kMaxShownBytes);
}

std::vector<DecodedArg> DecodeArguments(const SyscallEvent& ev, GuestMemory& mem,
                                        DecodeLimits limits) {
  std::vector<DecodedArg> out;
  const CallLayout* call = IsNativeArch(ev.arch) ? FindLayout(ev.nr) : nullptr;
  if (call == nullptr) {
    for (uint64_t v : ev.args) {
      out.push_back(HexArg(v));
    }
    return out;
  }
  for (size_t i = 0; i < call->args.size() && call->args[i] != kNone; ++i) {
    if (call->args[i] == kOpenMode && i > 0 && !CreatesFile(ev.args[i - 1])) {
      break;
    }
    out.push_back(DecodeOne(call->args[i], ev, i, mem, limits.shown()));
  }
  return out;
}

bool HasOutArguments(int nr) {
  const CallLayout* call = FindLayout(nr);
  if (call == nullptr) {
    return false;
  }
  for (ArgKind k : call->args) {
    if (k >= kStatOut) {
      return true;
    }
  }
  return false;
}

bool DecodeReturned(const SyscallEvent& ev, int64_t result, GuestMemory& mem,
                    std::vector<DecodedArg>& args, DecodeLimits limits) {
  const CallLayout* call = IsNativeArch(ev.arch) ? FindLayout(ev.nr) : nullptr;
  if (call == nullptr || !HasOutArguments(ev.nr)) {
    return false;
  }
  if (ErrorOf(result)) {
    return true;  // nothing was written: the pointers are what strace shows too
  }
  for (size_t i = 0; i < args.size() && i < call->args.size(); ++i) {
    const uint64_t v = ev.args[i];
    switch (call->args[i]) {
      case kStatOut:
        args[i] = StatArg(v, mem);
        break;
      case kTimespecOut:
        args[i] = TimespecArg(v, mem);
        break;
      case kWaitStatusOut:
        // 0 from WNOHANG: no child changed state, and the status was not written.
        if (v != 0 && result > 0) {
          std::optional<int32_t> status = ReadObject<int32_t>(v, mem);
          args[i] = status ? DecodedArg{WaitStatusText(*status), *status} : Unreadable(v);
        }
        break;
      case kFdPairOut:
        args[i] = IntsArg(v, mem, 2);
        break;
      case kReadBuffer:
        args[i] = BufferArg(v, static_cast<uint64_t>(result), mem, limits.shown());
        break;
      case kIntOut: {
        // getsockopt: the value is an int when the length the kernel wrote back says so.
        std::optional<uint32_t> len =
            i + 1 < ev.args.size() && ev.args[i + 1] != 0 ? ReadObject<uint32_t>(ev.args[i + 1], mem)
                                                          : std::nullopt;
        if (len && *len == sizeof(int32_t)) {
          args[i] = IntsArg(v, mem, 1);
        }
        break;
      }
      case kSocklenInOut:
        if (v != 0) {
          std::optional<uint32_t> len = ReadObject<uint32_t>(v, mem);
          args[i] = len ? DecodedArg{fmt::format("[{}]", *len), nlohmann::json::array({*len})}
                        : Unreadable(v);
        }
        break;
      default:
        break;
    }
  }
  return true;
}

std::string FormatResult(int nr, std::optional<int64_t> result) {
  if (!result) {
    return "?";
  }
  if (std::optional<int> err = ErrorOf(*result)) {
    // The kernel's restart codes (include/linux/errno.h) never reach the program: a signal
    // interrupted the call, which is restarted or fails with EINTR on the way out. strace shows
    // them with "?" and says which.
    switch (*err) {
      case 512:
        return "? ERESTARTSYS (To be restarted if SA_RESTART is set)";
      case 513:
        return "? ERESTARTNOINTR (To be restarted)";
      case 514:
        return "? ERESTARTNOHAND (To be restarted if no handler)";
      case 516:
        return "? ERESTART_RESTARTBLOCK (Interrupted by signal)";
      default:
        break;
    }
    const char* desc = strerrordesc_np(*err);
    return desc != nullptr ? fmt::format("-1 {} ({})", ErrnoName(*err), desc)
                           : fmt::format("-1 {}", ErrnoName(*err));
  }
  const CallLayout* call = FindLayout(nr);
  if (call != nullptr && call->returns_address) {
    return Hex(static_cast<uint64_t>(*result));
  }
  return std::to_string(*result);
}

nlohmann::json ResultJson(std::optional<int64_t> result) {
  if (!result) {
    return {{"ret", nullptr}};
  }
  if (std::optional<int> err = ErrorOf(*result)) {
    return {{"ret", -1}, {"errno", ErrnoName(*err)}};
  }
  return {{"ret", *result}};
}

}  // namespace hijack::syscalls
