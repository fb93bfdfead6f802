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
#include <string>

#include "hijack/result.h"

namespace hijack::policy {

[[nodiscard]] Result<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes);

}  // namespace hijack::policy
