#include "daemon/control/guest_output.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <cstring>

#include <spdlog/spdlog.h>

namespace hijack::control {
namespace {

size_t Index(OutputStream s) { return static_cast<size_t>(s); }

// What one exit may read from a guest's pipes before its capture ends: a pipe holds 64 KiB by
// default (pipe(7)), so this covers everything the guest left in both, while a descendant that
// writes without pause cannot hold the collector here.
constexpr size_t kExitDrainBudget = 1 << 20;

}  // namespace

std::vector<GuestCapture::Piece> GuestCapture::Read(Cursor& cursor,
                                                    std::optional<OutputStream> only) const {
  std::lock_guard lock(mu_);
  std::vector<Piece> out;
  for (const OutputChunk& c : chunks_) {
    if (c.seq < cursor.next_seq) {
      continue;
    }
    cursor.next_seq = c.seq + 1;
    if (only && c.stream != *only) {
      continue;
    }
    uint64_t& seen = cursor.offset[Index(c.stream)];
    const uint64_t start = c.end_offset - c.data.size();
    out.push_back({.chunk = c, .dropped_before = start > seen ? start - seen : 0});
    seen = c.end_offset;
  }
  // Everything evicted since: a reader that saw nothing kept still learns what it lost.
  cursor.next_seq = std::max(cursor.next_seq, next_seq_);
  return out;
}

bool GuestCapture::WaitBeyond(const Cursor& cursor,
                              std::chrono::steady_clock::time_point until) const {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, until, [&] { return ended_ || next_seq_ > cursor.next_seq; });
}

bool GuestCapture::ended() const {
  std::lock_guard lock(mu_);
  return ended_;
}

void GuestCapture::Append(OutputStream stream, std::string_view data) {
  {
    std::lock_guard lock(mu_);
    uint64_t& written = written_[Index(stream)];
    written += data.size();
    chunks_.push_back({.stream = stream,
                       .data = std::string(data),
                       .seq = next_seq_++,
                       .end_offset = written});
    bytes_ += data.size();
    while (bytes_ > capacity_ && chunks_.size() > 1) {
      bytes_ -= chunks_.front().data.size();
      chunks_.pop_front();
    }
  }
  cv_.notify_all();
}

void GuestCapture::End() {
  {
    std::lock_guard lock(mu_);
    ended_ = true;
  }
  cv_.notify_all();
}

Result<GuestOutputCollector::Pipes> GuestOutputCollector::MakePipes() {
  Pipes p;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "pipe2 for a guest's standard output");
  }
  p.stdout_read.reset(out[0]);
  p.stdout_write.reset(out[1]);
  if (pipe2(err, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "pipe2 for a guest's standard error");
  }
  p.stderr_read.reset(err[0]);
  p.stderr_write.reset(err[1]);
  // A guest of the API has no terminal: its input is empty, never the daemon's.
  p.stdin_null.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (p.stdin_null.get() < 0) {
    return ErrnoError(errno, "open /dev/null for a guest's standard input");
  }
  for (int fd : {p.stdout_read.get(), p.stderr_read.get()}) {
    if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
      return ErrnoError(errno, "fcntl O_NONBLOCK on a guest's output pipe");
    }
  }
  return p;
}

Result<std::unique_ptr<GuestOutputCollector>> GuestOutputCollector::Create() {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (epoll.get() < 0) {
    return ErrnoError(errno, "epoll_create1 for guest output");
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) {
    return ErrnoError(errno, "eventfd for guest output");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake.get();
  if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return ErrnoError(errno, "epoll_ctl for guest output");
  }
  return std::unique_ptr<GuestOutputCollector>(
      new GuestOutputCollector(std::move(epoll), std::move(wake)));
}

GuestOutputCollector::GuestOutputCollector(UniqueFd epoll, UniqueFd wake)
    : epoll_(std::move(epoll)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { Run(); });
}

GuestOutputCollector::~GuestOutputCollector() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  const uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
  thread_.join();
  std::lock_guard lock(mu_);
  for (auto& [id, capture] : captures_) {
    capture->End();  // followers still waiting end with the daemon
  }
}

void GuestOutputCollector::Add(uint64_t id, Pipes pipes) {
  auto capture = std::make_shared<GuestCapture>(kRingBytes);
  // The guest holds its own copies now; ours would keep the pipes from ever reaching EOF.
  pipes.stdin_null.reset();
  pipes.stdout_write.reset();
  pipes.stderr_write.reset();
  std::lock_guard lock(mu_);
  captures_[id] = capture;
  const std::pair<UniqueFd*, OutputStream> ends[] = {
      {&pipes.stdout_read, OutputStream::kStdout}, {&pipes.stderr_read, OutputStream::kStderr}};
  for (auto [end, stream] : ends) {
    UniqueFd fd = std::move(*end);
    epoll_event ev{};
    ev.events = EPOLLIN;  // EPOLLHUP comes unasked
    ev.data.fd = fd.get();
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
      // Observation fails open: the guest runs, its output of this stream is not kept.
      spdlog::warn("guest {}: epoll_ctl on its output pipe: {}", id, std::strerror(errno));
      continue;
    }
    const int raw = fd.get();
    sources_.emplace(raw, Source{.id = id, .stream = stream, .fd = std::move(fd)});
  }
}

void GuestOutputCollector::GuestExited(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    exited_.push_back(id);
  }
  const uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
}

std::shared_ptr<GuestCapture> GuestOutputCollector::Find(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = captures_.find(id);
  return it == captures_.end() ? nullptr : it->second;
}

bool GuestOutputCollector::Drain(Source& source, const std::shared_ptr<GuestCapture>& capture,
                                 size_t budget) {
  char buf[kChunkBytes];
  while (budget > 0) {
    const ssize_t n = read(source.fd.get(), buf, std::min(sizeof buf, budget));
    if (n > 0) {
      if (capture) {
        capture->Append(source.stream, std::string_view(buf, static_cast<size_t>(n)));
      }
      budget -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    // EAGAIN: drained for now; 0: every writer closed it; anything else ends the source.
    return n < 0 && errno == EAGAIN;
  }
  return true;
}

void GuestOutputCollector::Remove(int fd) {
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  sources_.erase(fd);
}

void GuestOutputCollector::Forget() {
  while (ended_order_.size() > kKeptExited) {
    captures_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

void GuestOutputCollector::Run() {
  epoll_event events[32];
  for (;;) {
    const int n = epoll_wait(epoll_.get(), events, 32, -1);
    if (n < 0 && errno != EINTR) {
      spdlog::error("guest output: epoll_wait: {}", std::strerror(errno));
      return;
    }
    std::lock_guard lock(mu_);
    if (stop_) {
      return;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_.get()) {
        uint64_t count;
        (void)!read(wake_.get(), &count, sizeof count);
        continue;
      }
      auto it = sources_.find(fd);
      if (it == sources_.end()) {
        continue;
      }
      auto capture = captures_.contains(it->second.id) ? captures_[it->second.id] : nullptr;
      // One chunk per wakeup and pipe, so one chatty guest does not starve the others.
      if (!Drain(it->second, capture, kChunkBytes)) {
        Remove(fd);
      }
    }
    // Exits: the guest's writes are all in its pipes by now (write(2) to a pipe completes
    // before the writer can exit), so what is read here is the rest of its output.
    for (uint64_t id : std::exchange(exited_, {})) {
      auto capture = captures_.contains(id) ? captures_[id] : nullptr;
      std::vector<int> done;
      for (auto& [fd, source] : sources_) {
        if (source.id == id && !Drain(source, capture, kExitDrainBudget)) {
          done.push_back(fd);
        }
      }
      for (int fd : done) {
        Remove(fd);
      }
      if (capture) {
        capture->End();
        ended_order_.push_back(id);
      }
    }
    Forget();
  }
}

}  // namespace hijack::control
