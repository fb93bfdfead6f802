// Renders the arguments and results of system calls for people (strace style) and programs (JSON).
//
// The decoder renders each argument by the kind the layout table (syscall_args.h) gives it (file
// descriptor, path, open flags, sockaddr, ...); a call without a layout shows its six raw
// arguments in hex. Pointer arguments are read through GuestMemory, so a bad or stale guest
// pointer is rendered, never dereferenced:
//
//   std::vector<DecodedArg> args = syscalls::DecodeArguments(ev, mem);
//   // openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = 3
//   fmt::print("{}({}) = {}\n", syscalls::SyscallName(ev.nr),
//              fmt::join(args | std::views::transform(&DecodedArg::text), ", "),
//              syscalls::FormatResult(ev.nr, result));
//
// All functions are thread-safe and never throw for any guest input: strings that are not valid
// UTF-8 go into JSON escaped the way `text` shows them, so serializing the JSON cannot throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hijack/event.h"
#include "hijack/guest_memory.h"
#include "hijack/syscall_event.h"

namespace hijack::syscalls {

// What the decoder shows of each string and data buffer unless asked for more.
inline constexpr size_t kDefaultShownBytes = 256;
// The most it shows of one, whatever it is asked (strace's -s goes to 2^30-1): a line then
// holds at most about 4 MiB of escaped text per argument, however much the guest wrote.
inline constexpr size_t kMaxShownBytes = size_t{1} << 20;

// How much of the guest's data DecodeArguments and DecodeReturned read and show.
struct DecodeLimits {
  // Bytes of each data buffer (write(2)'s, read(2)'s) shown, and characters of each string
  // (paths, argv entries; at most PATH_MAX are read); then "...". Taken as at least
  // kDefaultShownBytes and at most kMaxShownBytes. Only min(shown, the call's count) bytes of a
  // buffer are read, in bounded pieces.
  size_t shown_bytes = kDefaultShownBytes;
  size_t shown() const;
};

// Decodes the arguments of `ev` as the call sees them on entry: as many as the call takes, or six
// (hex) for calls without a table entry and for calls of a non-native arch (ev.arch other than
// AUDIT_ARCH_X86_64; 0 counts as native). Out-parameters (the buffer of read(2), the address of
// accept(2)) are shown as pointers, since their contents are not yet written. open's mode is left
// out unless the flags create a file, as strace does.
//
// Reads through `mem` only during the call: paths and argv strings up to PATH_MAX each
// (limits.shown() chars shown, then "..."), at most 32 argv/envp entries, limits.shown() bytes of
// write(2) data, one sockaddr. A failed read is shown as the raw pointer ("0x7ffd1234") with JSON
// {"ptr": "0x7ffd1234", "error": "EFAULT"}.
//
// JSON per kind: numbers for integers and descriptors; strings for paths, symbolic flags and
// values, modes ("0644") and pointers ("0x7ffd1234"; null for NULL); {"family", "addr", "port"}
// or {"family", "path"} for socket addresses; arrays of strings for argv/envp, ending in "..."
// when cut short.
std::vector<DecodedArg> DecodeArguments(const SyscallEvent& ev, GuestMemory& mem,
                                        DecodeLimits limits = {});

// Whether native call `nr` has out-parameters (ArgKind kStatOut and after: struct stat, read
// buffers, wait statuses, pipe descriptors...), which DecodeArguments shows as pointers.
bool HasOutArguments(int nr);

// Replaces, in `args` (DecodeArguments of `ev`), the out-parameters the kernel wrote for `ev`,
// which returned `result`: the struct stat, the bytes read (up to limits.shown() of them), the
// wait status, the pipe's descriptors. Only meaningful while the thread is still stopped at the
// call's return (a ptrace syscall-exit-stop): later the guest may have reused the memory. A
// failed call wrote nothing, and its pointers stay, as strace shows them. Returns true when the
// call has out-parameters (HasOutArguments), so that they are now what the call returned.
bool DecodeReturned(const SyscallEvent& ev, int64_t result, GuestMemory& mem,
                    std::vector<DecodedArg>& args, DecodeLimits limits = {});

// The result of call `nr` as strace prints it: "?" when unknown, "-1 ENOENT (No such file or
// directory)" for -4095..-1 ("? ERESTARTSYS (To be restarted if SA_RESTART is set)" for the
// kernel's restart codes, which a signal left at the call's exit), hex for calls that return an
// address (mmap, mremap, brk, shmat), decimal otherwise.
std::string FormatResult(int nr, std::optional<int64_t> result);

// The result as JSON: {"ret": 3}, {"ret": -1, "errno": "ENOENT"} or {"ret": null}.
nlohmann::json ResultJson(std::optional<int64_t> result);

}  // namespace hijack::syscalls
