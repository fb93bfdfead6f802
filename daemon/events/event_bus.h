// EventBus: delivers completed calls to observers without ever blocking the guest.
//
//   EventBus bus;
//   auto sub = bus.Subscribe("trace", 4096, [](const EventItem& item) { Write(item.event); });
//   bus.Publish(std::make_shared<EventItem>(...));   // loop thread; never blocks
//   bus.Flush();                                     // waits until every queue is drained
//
// Each subscription has its own bounded queue and thread, bounded in events and in the bytes of
// decoded arguments they hold (hijackd strace -s can make one event hold megabytes). When a
// queue is full the new event is dropped for that subscriber alone and counted; the subscriber learns the count with the next
// event it receives (EventItem::dropped_before) and from dropped(). Destroying the Subscription
// stops its thread after the events already queued.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hijack/event.h"

namespace hijack::policy {
class PolicySet;
}

namespace hijack::events {

struct EventItem {
  Event event;
  // The policy snapshot that decided the call: observers of that snapshot see it.
  std::shared_ptr<const policy::PolicySet> policy;
};

using EventPtr = std::shared_ptr<const EventItem>;

// What a queue of one subscription may hold of decoded argument text (Event::args, text and
// JSON counted once each) before it drops: far above what ordinary events hold (a few hundred
// bytes), reached only by many events with megabyte buffers queued behind a slow subscriber.
inline constexpr size_t kDefaultMaxQueuedBytes = size_t{256} << 20;

// The bytes of decoded arguments `event` holds, as the queue bound counts them.
size_t ArgumentBytes(const Event& event);

class Subscription {
 public:
  using Sink = std::function<void(const EventItem& item, uint64_t dropped_before)>;
  using Filter = std::function<bool(const EventItem& item)>;

  // A queue of `capacity` events and `max_bytes` (ArgumentBytes); one event is always taken
  // into an empty queue, however large.
  Subscription(std::string name, size_t capacity, Sink sink, Filter filter,
               size_t max_bytes = kDefaultMaxQueuedBytes);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  const std::string& name() const { return name_; }
  // Delivers what is queued, then stops the thread; offers after it are ignored. When Close()
  // returns the sink is never called again, whoever else still holds the subscription (a
  // Publish in flight keeps its own reference). Any thread but the subscription's; idempotent.
  void Close();
  uint64_t delivered() const;
  uint64_t dropped() const;

 private:
  friend class EventBus;
  void Offer(const EventPtr& item, size_t bytes);  // bytes: ArgumentBytes(item->event)
  void WaitIdle();
  void Run();

  const std::string name_;
  const size_t capacity_;
  const size_t max_bytes_;
  Sink sink_;
  Filter filter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  struct Queued {
    EventPtr item;
    size_t bytes;
  };
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  uint64_t pending_drops_ = 0;
  uint64_t dropped_ = 0;
  uint64_t delivered_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::once_flag joined_;
  std::thread thread_;
};

class EventBus {
 public:
  EventBus() = default;
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Any thread. The returned handle keeps the subscription alive; dropping it unsubscribes.
  std::shared_ptr<Subscription> Subscribe(std::string name, size_t capacity, Subscription::Sink sink,
                                          Subscription::Filter filter = nullptr,
                                          size_t max_bytes = kDefaultMaxQueuedBytes);

  // Any thread; never blocks on a subscriber.
  void Publish(EventPtr item);

  // Waits until every live subscriber has handled what was published before the call.
  void Flush();

  // Streams that want every call of every guest they watch (WatchEvents): while one is open, the
  // agents of the guests send each call they observe as an event, not just as counts.
  void StreamOpened() { streams_.fetch_add(1, std::memory_order_relaxed); }
  void StreamClosed() { streams_.fetch_sub(1, std::memory_order_relaxed); }
  bool HasStreams() const { return streams_.load(std::memory_order_relaxed) > 0; }

 private:
  std::vector<std::shared_ptr<Subscription>> Live();

  std::mutex mu_;
  std::vector<std::weak_ptr<Subscription>> subscribers_;
  std::atomic<int> streams_{0};
};

}  // namespace hijack::events
