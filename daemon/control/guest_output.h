// GuestOutputCollector: what the guests launched over the control API write to their standard
// output and standard error, kept per guest for `hijackctl logs` (the GuestOutput RPC) instead
// of going into the daemon's own log.
//
//   GuestOutputCollector collector;
//   auto pipes = GuestOutputCollector::MakePipes();        // before the launch
//   spec.stdio = {pipes->stdin_null.get(), pipes->stdout_write.get(), pipes->stderr_write.get()};
//   ... Supervisor::Launch(spec) ...
//   collector.Add(id, std::move(*pipes));                  // closes the guest's ends here
//   ...
//   collector.GuestExited(id);                             // from the exit listener
//   std::shared_ptr<GuestCapture> c = collector.Find(id);  // readers: Read, WaitBeyond
//
// Each guest's output is a ring of the last kRingBytes bytes of both streams together, in the
// order they were read (chunks of at most kChunkBytes; the oldest chunks go first and are
// counted). 64 KiB is the tail of a busy server's log (several hundred lines) and keeps the
// worst case small: 256 running guests (SupervisorOptions::max_guests) and kKeptExited exited
// ones hold at most 20 MiB. The guest never waits for a reader: the collector reads its pipes
// as fast as they fill and drops from the ring, never from the pipe.
//
// Threads: one collector thread reads every pipe (epoll(7)). Add, GuestExited and Find are for
// any thread; GuestCapture's readers too (it has its own lock). When a guest exits, the collector
// reads what its pipes still hold (everything the guest wrote before it ended) and then marks the
// capture ended, which ends followers; descendants that still hold the pipes keep adding to the
// ring until they close it.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::control {

enum class OutputStream : uint8_t { kStdout = 1, kStderr = 2 };

struct OutputChunk {
  OutputStream stream = OutputStream::kStdout;
  std::string data;
  uint64_t seq = 0;         // position among all chunks of the guest, from 0
  uint64_t end_offset = 0;  // bytes of this stream up to and including this chunk
};

// One guest's ring. Thread-safe.
class GuestCapture {
 public:
  explicit GuestCapture(size_t capacity) : capacity_(capacity) {}

  // A reader's place: the next chunk it wants, and how many bytes of each stream it has seen
  // (delivered or counted as dropped).
  struct Cursor {
    uint64_t next_seq = 0;
    std::array<uint64_t, 3> offset{};  // by OutputStream
  };
  struct Piece {
    OutputChunk chunk;
    uint64_t dropped_before = 0;  // bytes of this stream lost between the previous piece and it
  };
  // The chunks after `cursor` of the wanted streams (both when `only` is empty); advances it.
  std::vector<Piece> Read(Cursor& cursor, std::optional<OutputStream> only) const;
  // Waits until a chunk beyond `cursor` arrives, the capture ends, or `until`. True if there is
  // something to read or the capture ended.
  bool WaitBeyond(const Cursor& cursor, std::chrono::steady_clock::time_point until) const;
  bool ended() const;

  // ---- The collector's side. ----
  void Append(OutputStream stream, std::string_view data);
  void End();

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<OutputChunk> chunks_;
  size_t bytes_ = 0;
  uint64_t next_seq_ = 0;
  std::array<uint64_t, 3> written_{};
  bool ended_ = false;
};

class GuestOutputCollector {
 public:
  static constexpr size_t kRingBytes = 64 * 1024;
  static constexpr size_t kChunkBytes = 4096;
  // Captures of exited guests kept (the supervisor keeps 64 exited guests by default).
  static constexpr size_t kKeptExited = 64;

  // The guest's ends (/dev/null for its input, the pipes' write ends) and the collector's
  // (the read ends). All close-on-exec: the child dup2(2)s the guest's onto 0, 1 and 2.
  struct Pipes {
    UniqueFd stdin_null, stdout_write, stderr_write;
    UniqueFd stdout_read, stderr_read;
  };
  // pipe2(2) and /dev/null; errors name the call.
  static Result<Pipes> MakePipes();

  // Starts the collector thread. Errors: epoll_create1, eventfd.
  static Result<std::unique_ptr<GuestOutputCollector>> Create();
  ~GuestOutputCollector();  // stops the thread
  GuestOutputCollector(const GuestOutputCollector&) = delete;
  GuestOutputCollector& operator=(const GuestOutputCollector&) = delete;

  // Collects guest `id`'s output from its pipes; closes the guest's ends of `pipes` (the
  // guest holds its own copies). Any thread.
  void Add(uint64_t id, Pipes pipes);
  // Guest `id` ended: its capture ends once the pipes are drained. Any thread.
  void GuestExited(uint64_t id);
  // Null when guest `id`'s output is not captured (never was, or forgotten).
  std::shared_ptr<GuestCapture> Find(uint64_t id) const;

 private:
  GuestOutputCollector(UniqueFd epoll, UniqueFd wake);
  struct Source {
    uint64_t id;
    OutputStream stream;
    UniqueFd fd;
  };
  void Run();
  // Reads what `fd` holds now, at most `budget` bytes; false at EOF or on an error.
  bool Drain(Source& source, const std::shared_ptr<GuestCapture>& capture, size_t budget);
  void Remove(int fd);
  void Forget();  // drops the oldest ended captures beyond kKeptExited; under mu_

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: work was queued, or stop
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<GuestCapture>> captures_;
  std::map<int, Source> sources_;      // by read end; the collector thread's, under mu_
  std::vector<uint64_t> exited_;       // queued for the collector thread
  std::deque<uint64_t> ended_order_;   // ended captures, oldest first
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hijack::control
