#include "common/bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "hijack/unique_fd.h"

namespace hijack::common {
namespace {

std::string_view KindOf(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

}  // namespace

Result<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: open(2) of a FIFO without a writer would otherwise wait forever. It has no
  // effect on regular files, the only kind read below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) {
    return ErrnoError(errno, path.empty() ? "\"\" (an empty path)" : path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoError(errno, "fstat " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(
        Error{S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
              fmt::format("{}: {}, not a regular file", path, KindOf(st.st_mode))});
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return std::unexpected(Error{EFBIG, fmt::format("{}: {} bytes, more than the limit of {}",
                                                    path, st.st_size, max_bytes)});
  }
  std::string text;
  text.resize(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (text.size() > max_bytes) {  // it grew after fstat
        return std::unexpected(Error{
            EFBIG, fmt::format("{}: grew past the limit of {} bytes while it was read", path,
                               max_bytes)});
      }
      text.resize(std::min(max_bytes + 1, text.size() * 2));
    }
    ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError(errno, "read " + path);
    }
    if (n == 0) {
      break;
    }
    used += static_cast<size_t>(n);
  }
  text.resize(used);
  return text;
}

Result<std::FILE*> OpenOutputFile(const std::string& path, bool append) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                    (append ? O_APPEND : O_TRUNC);
  UniqueFd fd(::open(path.c_str(), flags, 0666));
  if (!fd.valid()) {
    return ErrnoError(errno, path);
  }
  const int status = ::fcntl(fd.get(), F_GETFL);
  if (status < 0 || ::fcntl(fd.get(), F_SETFL, status & ~O_NONBLOCK) != 0) {
    return ErrnoError(errno, "fcntl " + path);
  }
  std::FILE* out = ::fdopen(fd.get(), append ? "ae" : "we");
  if (out == nullptr) {
    return ErrnoError(errno, "fdopen " + path);
  }
  (void)fd.release();  // the FILE owns it now
  return out;
}

}  // namespace hijack::common
