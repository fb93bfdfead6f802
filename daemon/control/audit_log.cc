#include "daemon/control/audit_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace hijack::control {
namespace {

Result<UniqueFd> OpenAppend(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return ErrnoError(errno, "open audit log " + path);
  }
  return fd;
}

std::string IsoTime(int64_t unix_ms) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[48];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, size_t max_bytes) {
  auto fd = OpenAppend(path);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) {
    return ErrnoError(errno, "stat audit log " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(Error{EINVAL, "audit log " + path + " is not a regular file"});
  }
  return std::unique_ptr<AuditLog>(
      new AuditLog(path, max_bytes, std::move(*fd), static_cast<size_t>(st.st_size)));
}

std::string AuditLog::Line(const v1::AuditRecord& r) {
  nlohmann::json j = {
      {"time", IsoTime(r.unix_ms())}, {"caller", r.caller()}, {"rpc", r.rpc()},
      {"guest", r.guest_id()},        {"what", r.what()},     {"result", r.result()}};
  // Replace, not throw, on bytes that are not UTF-8 (argv comes from the caller).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<void> AuditLog::Rotate() {
  const std::string old = path_ + ".1";
  if (rename(path_.c_str(), old.c_str()) != 0) {
    return ErrnoError(errno, "rename " + path_ + " to " + old);
  }
  auto fd = OpenAppend(path_);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  fd_ = std::move(*fd);
  size_ = 0;
  return {};
}

void AuditLog::Append(const v1::AuditRecord& record) {
  std::string line = Line(record) + "\n";
  std::lock_guard lock(mu_);
  if (size_ > 0 && size_ + line.size() > max_bytes_) {
    if (auto rotated = Rotate(); !rotated) {
      // The bound holds even then: the record is dropped, not appended past it.
      if (!reported_) {
        spdlog::error("audit log: {}; records are dropped", rotated.error().message);
        reported_ = true;
      }
      return;
    }
  }
  ssize_t n = write(fd_.get(), line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    if (!reported_) {
      spdlog::error("audit log {}: write: {}", path_, n < 0 ? std::strerror(errno) : "short write");
      reported_ = true;
    }
    return;
  }
  size_ += line.size();
}

}  // namespace hijack::control
