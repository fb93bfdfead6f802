#include "daemon/backend/backend_set.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/backend/ptrace/tracer.h"

namespace hijack::backend {
namespace {

// The row after `kind`'s, which a user whose choice cannot run here may try instead.
const BackendEntry* NextEntry(BackendKind kind) {
  const auto table = BackendTable();
  const size_t next = static_cast<size_t>(kind) + 1;
  return next < table.size() ? &table[next] : nullptr;
}

// Get's words for a kind that cannot run here.
Error CannotRun(const BackendEntry& entry, const Error& why) {
  const BackendEntry* next = NextEntry(entry.kind);
  return Error{why.code,
               fmt::format("the {} backend ({}) cannot run here: {}{}", entry.name(),
                           entry.description, why.message,
                           next != nullptr ? fmt::format("; try --backend {}", next->name())
                                           : std::string())};
}

// The check a kind is made on: its quick probe where it has one.
Result<void> FirstProbe(const BackendEntry& entry) {
  return entry.quick_probe != nullptr ? entry.quick_probe() : entry.probe();
}

}  // namespace

BackendSet::BackendSet(boost::asio::io_context& loop, launcher::ProcessReaper& reaper,
                       BackendOptions options)
    : loop_(loop), reaper_(reaper), options_(options) {}

// The instances first: they hold the Tracer too.
BackendSet::~BackendSet() {
  for (auto& instance : instances_) {
    instance.reset();
  }
  tracer_.reset();
}

const std::shared_ptr<Tracer>& BackendSet::SharedTracer() {
  if (tracer_ == nullptr) {
    tracer_ = Tracer::Create(loop_, reaper_);
  }
  return tracer_;
}

Result<Backend*> BackendSet::Get(BackendKind kind) {
  const size_t i = static_cast<size_t>(kind);
  const BackendEntry& entry = EntryOf(kind);
  if (unusable_[i]) {
    return std::unexpected(CannotRun(entry, *unusable_[i]));
  }
  std::unique_ptr<Backend>& instance = instances_[i];
  if (instance != nullptr) {
    return instance.get();
  }
  if (auto works = FirstProbe(entry); !works) {
    return std::unexpected(CannotRun(entry, works.error()));
  }
  unconfirmed_[i] = entry.quick_probe != nullptr;
  instance = entry.make(*this);
  return instance.get();
}

std::optional<Error> BackendSet::LaunchFailed(BackendKind kind) {
  const size_t i = static_cast<size_t>(kind);
  if (!unconfirmed_[i]) {
    return std::nullopt;
  }
  unconfirmed_[i] = false;
  const BackendEntry& entry = EntryOf(kind);
  if (auto works = entry.probe(); !works) {
    unusable_[i] = works.error();
    if (auto_kind_ == kind) {
      auto_kind_.reset();
    }
    return CannotRun(entry, works.error());
  }
  return std::nullopt;
}

Result<BackendSet::Selected> BackendSet::Select(BackendChoice choice) {
  if (!choice.automatic()) {
    HIJACK_ASSIGN_OR_RETURN(Backend * backend, Get(*choice.kind()));
    return Selected{*choice.kind(), backend};
  }
  if (auto_kind_) {
    HIJACK_ASSIGN_OR_RETURN(Backend * backend, Get(*auto_kind_));
    return Selected{*auto_kind_, backend};
  }
  // Rows already made passed their probe; the others are probed in the table's order.
  std::string skipped;
  for (const BackendEntry& entry : BackendTable()) {
    const size_t i = static_cast<size_t>(entry.kind);
    if (unusable_[i]) {
      skipped += fmt::format("; no {}: {}", entry.name(), unusable_[i]->message);
      continue;
    }
    std::unique_ptr<Backend>& instance = instances_[i];
    if (instance == nullptr) {
      if (auto works = FirstProbe(entry); !works) {
        skipped += fmt::format("; no {}: {}", entry.name(), works.error().message);
        continue;
      }
      unconfirmed_[i] = entry.quick_probe != nullptr;
      instance = entry.make(*this);
    }
    auto_kind_ = entry.kind;
    spdlog::info("backend: {} ({}{})", entry.name(), entry.description, skipped);
    return Selected{entry.kind, instance.get()};
  }
  return MakeError(fmt::format("no backend can run here{}", skipped));
}

std::optional<BackendSet::Selected> BackendSet::AutoFallback(
    BackendKind failed, const Error& why, const std::function<bool(const Backend&)>& accepts) {
  const std::optional<BackendKind> fallback = EntryOf(failed).auto_fallback;
  if (!fallback) {
    return std::nullopt;
  }
  auto backend = Get(*fallback);
  if (!backend || !accepts(**backend)) {
    return std::nullopt;
  }
  spdlog::warn("backend: a {} launch failed ({}); auto uses {} from now on",
               BackendKindName(failed), why.message, BackendKindName(*fallback));
  auto_kind_ = *fallback;
  return Selected{*fallback, *backend};
}

}  // namespace hijack::backend
