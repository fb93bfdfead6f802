// Fuzz target: the syscall argument decoder (daemon/syscalls/arg_decoder.h) and the argument
// extractors (syscall_args.h, sockaddr.h) against guest memory that the fuzzer writes. A guest
// controls every byte its pointers lead to, so the decoder must render any of it without
// crashing, reading out of bounds or throwing, and its JSON must serialize.
//
//   build/fuzz/tests/fuzz/arg_decoder_fuzzer -max_total_time=600 \
//       build/fuzz/corpus/arg_decoder tests/fuzz/corpus/arg_decoder
//
// Input layout: syscall number (2 bytes), arch selector (1), six arguments (each 1 selector
// byte and 8 bytes: the selector says whether the value points into the fake memory, is NULL
// or is taken raw), a result (8 bytes, 1 selector), then the guest memory itself, mapped at
// kBase. Reads past its end are short, and reads outside it fail with EFAULT, as
// process_vm_readv(2) behaves at the edge of a mapping.
#include <fuzzer/FuzzedDataProvider.h>
#include <linux/audit.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "daemon/syscalls/arg_decoder.h"
#include "daemon/syscalls/sockaddr.h"
#include "daemon/syscalls/syscall_args.h"
#include "hijack/guest_memory.h"
#include "tests/support/fake_guest_memory.h"

namespace {

constexpr uint64_t kBase = 0x7f0000000000;

uint64_t Argument(FuzzedDataProvider& in) {
  const uint8_t how = in.ConsumeIntegral<uint8_t>();
  const uint64_t raw = in.ConsumeIntegral<uint64_t>();
  switch (how % 4) {
    case 0:
      return kBase + raw % 4096;  // into the fake memory (or just past it)
    case 1:
      return 0;
    default:
      return raw;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  hijack::SyscallEvent ev;
  ev.nr = in.ConsumeIntegralInRange<int>(-2, 1100);
  switch (in.ConsumeIntegral<uint8_t>() % 4) {
    case 0:
      ev.arch = 0;
      break;
    case 1:
      ev.arch = AUDIT_ARCH_X86_64;
      break;
    case 2:
      ev.arch = AUDIT_ARCH_I386;
      break;
    default:
      ev.arch = in.ConsumeIntegral<uint32_t>();
  }
  for (uint64_t& a : ev.args) {
    a = Argument(in);
  }
  std::optional<int64_t> result;
  if (in.ConsumeBool()) {
    result = in.ConsumeIntegral<int64_t>();
  }
  hijack::testing::FakeGuestMemory mem;
  const std::string bytes = in.ConsumeRemainingBytesAsString();
  if (!bytes.empty()) {
    mem.Map(kBase, bytes);
  }

  std::vector<hijack::DecodedArg> args = hijack::syscalls::DecodeArguments(ev, mem);
  for (const auto& a : args) {
    (void)a.json.dump();  // throws on invalid UTF-8: the header promises it cannot
  }
  (void)hijack::syscalls::FormatResult(ev.nr, result);
  (void)hijack::syscalls::ResultJson(result).dump();

  // The extractors the policy modules decide on read the same guest-controlled memory.
  namespace sc = hijack::syscalls;
  for (const sc::PathArg& p : sc::PathArgs(ev)) {
    if (p.index >= ev.args.size() || p.addr != ev.args[p.index]) {
      std::abort();
    }
  }
  (void)sc::FdArg(ev);
  (void)sc::OpenArgsOf(ev, mem);
  if (std::optional<sc::SockaddrRef> ref = sc::SockaddrArg(ev); ref && ref->addr != 0) {
    (void)sc::ReadSockaddr(mem, *ref);
  }
  for (uint64_t i = 0; i < std::min<uint64_t>(sc::MessageCount(ev), 4); ++i) {
    if (auto ref = sc::MessageAddress(ev, mem, i); ref && ref->addr != 0) {
      (void)sc::ReadSockaddr(mem, *ref);
    }
  }
  return 0;
}
