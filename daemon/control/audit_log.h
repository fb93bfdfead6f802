// AuditLog: one JSON line per mutating control call (Launch, Kill, SetPolicy), allowed or
// refused: who, when, what, and the result. Size-bounded: when the file would pass `max_bytes`
// it is renamed to PATH.1 (replacing the previous one) and a new PATH starts, so the log never
// holds more than twice `max_bytes`. Records also reach WatchEvents streams that ask for them
// (ControlService).
//
//   Result<std::unique_ptr<AuditLog>> log = AuditLog::Open("/var/log/hijack.audit", 16 << 20);
//   (*log)->Append(record);
//   // {"time":"2026-12-01T10:00:00.123Z","caller":"uid 1000 (pid 7)","rpc":"Launch",...}
//
// The file is created 0600 with O_NOFOLLOW (an audit trail of who may steer is itself
// sensitive). A write that fails is reported once in the daemon's log and never blocks or fails
// the call it records (observation fails open). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "hijack/result.h"
#include "hijack/unique_fd.h"
#include "hijack/v1/control.pb.h"

namespace hijack::control {

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, size_t max_bytes);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Append(const v1::AuditRecord& record);

  // The JSON line Append writes (without the newline).
  static std::string Line(const v1::AuditRecord& record);

 private:
  AuditLog(std::string path, size_t max_bytes, UniqueFd fd, size_t size)
      : path_(std::move(path)), max_bytes_(max_bytes), fd_(std::move(fd)), size_(size) {}
  Result<void> Rotate();

  const std::string path_;
  const size_t max_bytes_;
  std::mutex mu_;
  UniqueFd fd_;
  size_t size_;
  bool reported_ = false;
};

}  // namespace hijack::control
