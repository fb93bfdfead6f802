#include "daemon/modules/stats/latency_histogram.h"

#include <gtest/gtest.h>

namespace hijack::modules {
namespace {

TEST(LatencyHistogram, PercentilesWithinBucketError) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 10000; ++v) {
    h.Record(v * 100);  // 100 ns .. 1 ms, uniform
  }
  EXPECT_EQ(h.count(), 10000u);
  auto near = [](uint64_t got, double want) {
    return static_cast<double>(got) >= want * 0.99 && static_cast<double>(got) <= want * 1.07;
  };
  EXPECT_TRUE(near(h.Percentile(0.5), 500'000)) << h.Percentile(0.5);
  EXPECT_TRUE(near(h.Percentile(0.99), 990'000)) << h.Percentile(0.99);
  EXPECT_EQ(LatencyHistogram().Percentile(0.5), 0u);
}

TEST(LatencyHistogram, SmallAndHugeValues) {
  LatencyHistogram h;
  h.Record(0);
  h.Record(3);
  h.Record(UINT64_MAX / 2);
  EXPECT_EQ(h.Percentile(0.0), 0u);
  EXPECT_GE(h.Percentile(1.0), UINT64_MAX / 2);
}

}  // namespace
}  // namespace hijack::modules
