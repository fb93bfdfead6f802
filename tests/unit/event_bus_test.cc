#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "daemon/events/event_bus.h"

namespace hijack::events {
namespace {

EventPtr MakeEvent(int nr) {
  auto item = std::make_shared<EventItem>();
  item->event.call.nr = nr;
  return item;
}

TEST(EventBus, DeliversInOrderAndFlushWaits) {
  EventBus bus;
  std::vector<int> seen;
  auto sub = bus.Subscribe("test", 1024, [&](const EventItem& item, uint64_t dropped) {
    EXPECT_EQ(dropped, 0u);
    seen.push_back(item.event.call.nr);
  });
  for (int i = 0; i < 500; ++i) {
    bus.Publish(MakeEvent(i));
  }
  bus.Flush();
  ASSERT_EQ(seen.size(), 500u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  }
  EXPECT_EQ(sub->dropped(), 0u);
}

// A subscriber whose sink uses its caller's locals (WatchEvents) closes it before they go: what
// was queued is delivered, and the sink is never called again, even though another holder (a
// Publish in flight) keeps the subscription alive and goes on publishing.
TEST(EventBus, CloseStopsTheSinkWhileAnotherHolderKeepsTheSubscription) {
  EventBus bus;
  std::shared_ptr<Subscription> other;
  std::atomic<int> seen{0};
  {
    int calls_here = 0;  // dies with this scope, like a handler's locals
    auto sub = bus.Subscribe("test", 1024, [&](const EventItem&, uint64_t) {
      ++calls_here;
      ++seen;
    });
    other = sub;
    for (int i = 0; i < 100; ++i) {
      bus.Publish(MakeEvent(i));
    }
    sub->Close();
    EXPECT_EQ(calls_here, 100);
  }
  for (int i = 0; i < 100; ++i) {
    bus.Publish(MakeEvent(i));
  }
  bus.Flush();
  other.reset();
  EXPECT_EQ(seen.load(), 100);
}

TEST(EventBus, SlowSubscriberLosesEventsAndIsToldHowMany) {
  EventBus bus;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  uint64_t reported_drops = 0;
  std::atomic<int> delivered{0};
  auto slow = bus.Subscribe("slow", 4, [&](const EventItem&, uint64_t dropped) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    reported_drops += dropped;
    ++delivered;
  });
  std::atomic<int> fast_seen{0};
  auto fast = bus.Subscribe("fast", 1 << 16, [&](const EventItem&, uint64_t) { ++fast_seen; });
  for (int i = 0; i < 100; ++i) {
    bus.Publish(MakeEvent(i));  // never blocks although `slow` is stuck
  }
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  bus.Flush();
  EXPECT_EQ(fast_seen.load(), 100);
  EXPECT_GT(slow->dropped(), 0u);
  EXPECT_EQ(slow->dropped() + static_cast<uint64_t>(delivered.load()), 100u);
  // Drops are reported with the next delivered event; flush one more to carry the last count.
  bus.Publish(MakeEvent(100));
  bus.Flush();
  EXPECT_EQ(reported_drops, slow->dropped());
}

// Events that hold large decoded buffers (hijackd strace -s 1000000) are bounded by bytes as
// well as by count: a stuck subscriber holds at most max_bytes of them (and always one), the
// rest are dropped and counted, while a subscriber with room takes every one.
TEST(EventBus, QueuedArgumentBytesAreBounded) {
  EventBus bus;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> delivered{0};
  constexpr size_t kBuffer = 1000;
  auto big = [&](int nr) {
    auto item = std::make_shared<EventItem>();
    item->event.call.nr = nr;
    item->event.args.push_back({std::string(kBuffer, 'x'), std::string(kBuffer, 'x')});
    return item;
  };
  EXPECT_EQ(ArgumentBytes(big(0)->event), 2 * kBuffer);
  // Room for 5 events by count, for 2 by bytes (plus the one the sink holds).
  auto slow = bus.Subscribe(
      "slow", 1000,
      [&](const EventItem&, uint64_t) {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return release; });
        ++delivered;
      },
      nullptr, 5 * kBuffer);
  std::atomic<int> roomy_seen{0};
  auto roomy = bus.Subscribe("roomy", 1000, [&](const EventItem&, uint64_t) { ++roomy_seen; });
  for (int i = 0; i < 50; ++i) {
    bus.Publish(big(i));
  }
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  bus.Flush();
  EXPECT_EQ(roomy_seen.load(), 50);
  EXPECT_LE(delivered.load(), 3);
  EXPECT_GE(delivered.load(), 2);
  EXPECT_EQ(slow->dropped() + static_cast<uint64_t>(delivered.load()), 50u);
  // One event larger than the whole bound still goes into an empty queue.
  const int delivered_before = delivered.load();
  const uint64_t dropped_before = slow->dropped();
  auto huge = std::make_shared<EventItem>();
  huge->event.args.push_back({std::string(10 * kBuffer, 'y'), nullptr});
  bus.Publish(huge);
  bus.Flush();
  EXPECT_EQ(delivered.load(), delivered_before + 1);
  EXPECT_EQ(slow->dropped(), dropped_before);
}

TEST(EventBus, FilterSelectsEvents) {
  EventBus bus;
  std::atomic<int> odd{0};
  auto sub = bus.Subscribe(
      "odd", 64, [&](const EventItem&, uint64_t) { ++odd; },
      [](const EventItem& item) { return item.event.call.nr % 2 == 1; });
  for (int i = 0; i < 10; ++i) {
    bus.Publish(MakeEvent(i));
  }
  bus.Flush();
  EXPECT_EQ(odd.load(), 5);
}

}  // namespace
}  // namespace hijack::events
