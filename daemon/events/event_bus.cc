#include "daemon/events/event_bus.h"

namespace hijack::events {

size_t ArgumentBytes(const Event& event) {
  size_t bytes = 0;
  for (const DecodedArg& arg : event.args) {
    bytes += arg.text.size();
    if (arg.json.is_string()) {
      bytes += arg.json.get_ref<const std::string&>().size();
    }
  }
  return bytes;
}

Subscription::Subscription(std::string name, size_t capacity, Sink sink, Filter filter,
                           size_t max_bytes)
    : name_(std::move(name)),
      capacity_(capacity == 0 ? 1 : capacity),
      max_bytes_(max_bytes),
      sink_(std::move(sink)),
      filter_(std::move(filter)) {
  thread_ = std::thread([this] { Run(); });
}

Subscription::~Subscription() { Close(); }

void Subscription::Close() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::call_once(joined_, [this] { thread_.join(); });
}

uint64_t Subscription::delivered() const {
  std::lock_guard lock(mu_);
  return delivered_;
}

uint64_t Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void Subscription::Offer(const EventPtr& item, size_t bytes) {
  if (filter_ && !filter_(*item)) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;  // closed: nobody will deliver it
    }
    if (queue_.size() >= capacity_ ||
        (!queue_.empty() && queued_bytes_ + bytes > max_bytes_)) {
      ++dropped_;
      ++pending_drops_;
      return;
    }
    queued_bytes_ += bytes;
    queue_.push_back({item, bytes});
  }
  cv_.notify_one();
}

void Subscription::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return (queue_.empty() && !busy_) || stopping_; });
}

void Subscription::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) {
      idle_cv_.notify_all();
      return;  // stopping, and everything queued was delivered
    }
    EventPtr item = std::move(queue_.front().item);
    queued_bytes_ -= queue_.front().bytes;
    queue_.pop_front();
    uint64_t drops = pending_drops_;
    pending_drops_ = 0;
    busy_ = true;
    lock.unlock();
    sink_(*item, drops);
    lock.lock();
    busy_ = false;
    ++delivered_;
    if (queue_.empty()) {
      idle_cv_.notify_all();
    }
  }
}

std::shared_ptr<Subscription> EventBus::Subscribe(std::string name, size_t capacity,
                                                  Subscription::Sink sink,
                                                  Subscription::Filter filter,
                                                  size_t max_bytes) {
  auto sub = std::make_shared<Subscription>(std::move(name), capacity, std::move(sink),
                                            std::move(filter), max_bytes);
  std::lock_guard lock(mu_);
  subscribers_.push_back(sub);
  return sub;
}

std::vector<std::shared_ptr<Subscription>> EventBus::Live() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Subscription>> live;
  std::erase_if(subscribers_, [&](const std::weak_ptr<Subscription>& weak) {
    auto sub = weak.lock();
    if (!sub) {
      return true;
    }
    live.push_back(std::move(sub));
    return false;
  });
  return live;
}

void EventBus::Publish(EventPtr item) {
  const auto live = Live();
  if (live.empty()) {
    return;
  }
  // Once per event, not once per subscriber under its lock.
  const size_t bytes = ArgumentBytes(item->event);
  for (const auto& sub : live) {
    sub->Offer(item, bytes);
  }
}

void EventBus::Flush() {
  for (const auto& sub : Live()) {
    sub->WaitIdle();
  }
}

}  // namespace hijack::events
