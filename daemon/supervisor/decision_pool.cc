#include "daemon/supervisor/decision_pool.h"

#include <algorithm>

namespace hijack::supervisor {

DecisionPool::DecisionPool(boost::asio::io_context& loop, size_t threads)
    : loop_(loop), threads_(std::max<size_t>(threads, 1)), pool_(threads_) {}

DecisionPool::~DecisionPool() {
  pool_.stop();
  pool_.join();
}

}  // namespace hijack::supervisor
