// ReadBoundedFile: reads a whole configuration file that a user or a client named, within a
// size limit, without ever blocking on it.
//
//   Result<std::string> text = ReadBoundedFile("web.json", kMaxPolicyBytes);
//   if (!text) return std::unexpected(text.error());   // "web.json: not a regular file (...)"
//
// A path can name anything: /dev/zero (endless), a FIFO (open(2) blocks until a writer
// appears, read(2) until it writes), a directory, a file that grows while it is read, or one of
// gigabytes. Only regular files are read: the file is opened with O_NONBLOCK so that a FIFO
// cannot hold the open, checked with fstat(2) on the opened descriptor (no race with a rename),
// and read until `max_bytes` + 1 so that growth after fstat is caught as well.
//
// Thread-safe; no state. Errors carry the errno (ENOENT, EACCES, EISDIR for a directory,
// EINVAL for another kind of file, EFBIG past the limit) and a message that starts with the
// path.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include "hijack/result.h"

namespace hijack::common {

// The largest policy document read from a file or accepted over the control API; hijackctl
// refuses a larger one before sending it. The biggest realistic policies (long fs_guard rule
// lists) are a few KiB.
inline constexpr size_t kMaxPolicyBytes = 1 << 20;

[[nodiscard]] Result<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes);

// Opens a file a policy names for output (trace's "output", exec_guard's "log"): created 0666
// less the umask, truncated or appended, as fopen(3) "w"/"a" would. open(2) of a FIFO for
// writing waits for a reader forever (fifo(7)); opened O_NONBLOCK it fails at once with ENXIO
// instead, and the descriptor is made blocking again afterwards, so writes behave as before.
// The caller owns the FILE and fclose(3)s it. Errors: the errno of open(2), with the path.
[[nodiscard]] Result<std::FILE*> OpenOutputFile(const std::string& path, bool append);

}  // namespace hijack::common
