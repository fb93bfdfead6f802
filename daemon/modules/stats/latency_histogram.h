// LatencyHistogram: log-linear histogram of nanosecond durations, 16 buckets per power of two
// (relative error under 6.25%), for p50/p99 without keeping samples.
//
//   LatencyHistogram h;
//   h.Record(5300);
//   uint64_t p99 = h.Percentile(0.99);
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace hijack::modules {

class LatencyHistogram {
 public:
  void Record(uint64_t ns) {
    ++buckets_[Bucket(ns)];
    ++count_;
    sum_ += ns;
  }
  // `n` samples known only approximately (all near `representative_ns`) whose exact sum is `sum`.
  void RecordMany(uint64_t representative_ns, uint64_t n, uint64_t sum) {
    buckets_[Bucket(representative_ns)] += n;
    count_ += n;
    sum_ += sum;
  }
  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  // The smallest bucket bound below which a fraction `q` (0..1) of the samples lie; 0 if empty.
  uint64_t Percentile(double q) const {
    if (count_ == 0) {
      return 0;
    }
    auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) {
        return UpperBound(i);
      }
    }
    return UpperBound(buckets_.size() - 1);
  }

 private:
  static constexpr int kSubBits = 4;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  static size_t Bucket(uint64_t v) {
    if (v < (uint64_t{1} << kSubBits)) {
      return static_cast<size_t>(v);
    }
    int exp = std::bit_width(v) - 1;  // >= kSubBits
    uint64_t sub = (v >> (exp - kSubBits)) & ((1u << kSubBits) - 1);
    return (static_cast<size_t>(exp - kSubBits + 1) << kSubBits) + static_cast<size_t>(sub);
  }
  static uint64_t UpperBound(size_t bucket) {
    if (bucket < (size_t{1} << kSubBits)) {
      return bucket;
    }
    int exp = static_cast<int>(bucket >> kSubBits) + kSubBits - 1;
    uint64_t sub = bucket & ((1u << kSubBits) - 1);
    return ((uint64_t{1} << kSubBits) + sub + 1) << (exp - kSubBits);
  }

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace hijack::modules
