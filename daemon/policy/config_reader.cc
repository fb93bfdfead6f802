#include "daemon/policy/config_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "daemon/syscalls/syscall_table.h"

namespace hijack::policy {

bool ConfigReader::Has(std::string_view key) const { return object_.contains(key); }

const nlohmann::json* ConfigReader::Raw(std::string_view key) {
  known_.insert(std::string(key));
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

Error ConfigReader::ErrorAt(std::string_view key, const std::string& what) const {
  return Error{0, PathOf(key) + ": " + what};
}

Result<std::optional<std::string>> ConfigReader::String(std::string_view key) {
  const nlohmann::json* v = Raw(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_string()) {
    return std::unexpected(ErrorAt(key, fmt::format("expected a string, got {}", v->type_name())));
  }
  return v->get<std::string>();
}

Result<std::optional<double>> ConfigReader::Number(std::string_view key) {
  const nlohmann::json* v = Raw(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_number()) {
    return std::unexpected(ErrorAt(key, fmt::format("expected a number, got {}", v->type_name())));
  }
  // Text never holds NaN or infinity (ParseBoundedJson refuses 1e400); a document built in
  // code can.
  const double d = v->get<double>();
  if (!std::isfinite(d)) {
    return std::unexpected(ErrorAt(key, fmt::format("expected a finite number, got {}", d)));
  }
  return d;
}

Result<std::optional<double>> ConfigReader::Number(std::string_view key, double min, double max) {
  auto n = Number(key);
  if (!n || !*n) {
    return n;
  }
  if (!(**n >= min && **n <= max)) {
    return std::unexpected(ErrorAt(
        key, fmt::format("{} is out of range (expected {} .. {})", Raw(key)->dump(), min, max)));
  }
  return n;
}

Result<std::optional<int64_t>> ConfigReader::Integer(std::string_view key, int64_t min,
                                                     int64_t max) {
  auto n = Integer(key);
  if (!n || !*n) {
    return n;
  }
  if (**n < min || **n > max) {
    return std::unexpected(
        ErrorAt(key, fmt::format("{} is out of range (expected {} .. {})", **n, min, max)));
  }
  return n;
}

Result<std::optional<int64_t>> ConfigReader::Integer(std::string_view key) {
  const nlohmann::json* v = Raw(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_number_integer()) {
    return std::unexpected(ErrorAt(key, fmt::format("expected an integer, got {}", v->dump())));
  }
  if (v->is_number_unsigned() &&
      v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::unexpected(ErrorAt(key, fmt::format("{} is out of range (at most {})", v->dump(),
                                                    std::numeric_limits<int64_t>::max())));
  }
  return v->get<int64_t>();
}

Result<std::optional<bool>> ConfigReader::Bool(std::string_view key) {
  const nlohmann::json* v = Raw(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_boolean()) {
    return std::unexpected(ErrorAt(key, fmt::format("expected true or false, got {}", v->dump())));
  }
  return v->get<bool>();
}

Result<std::optional<std::vector<std::string>>> ConfigReader::StringList(std::string_view key) {
  const nlohmann::json* v = Raw(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (v->is_string()) {
    return std::vector<std::string>{v->get<std::string>()};
  }
  if (!v->is_array()) {
    return std::unexpected(
        ErrorAt(key, fmt::format("expected a list of strings, got {}", v->type_name())));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_string()) {
      return std::unexpected(Error{
          0, fmt::format("{}/{}: expected a string, got {}", PathOf(key), i, item.type_name())});
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::optional<SyscallSet>> ConfigReader::Syscalls(std::string_view key) {
  HIJACK_ASSIGN_OR_RETURN(auto names, StringList(key));
  if (!names) {
    return std::nullopt;
  }
  SyscallSet set;
  const bool single = Raw(key)->is_string();
  for (size_t i = 0; i < names->size(); ++i) {
    auto resolved = syscalls::ResolveSyscallSpec((*names)[i]);
    if (!resolved) {
      std::string where = single ? PathOf(key) : fmt::format("{}/{}", PathOf(key), i);
      return std::unexpected(Error{0, where + ": " + resolved.error().message});
    }
    set.AddAll(*resolved);
  }
  return set;
}

Result<int> ConfigReader::Errno(std::string_view key, int fallback) {
  const nlohmann::json* v = Raw(key);
  if (v == nullptr) {
    return fallback;
  }
  if (v->is_number_integer()) {
    // Compared as unsigned first: 18446744073709551615 must not wrap to -1.
    if (v->is_number_unsigned() && v->get<uint64_t>() > 4095) {
      return std::unexpected(
          ErrorAt(key, fmt::format("errno {} is out of range 1..4095", v->dump())));
    }
    int64_t n = v->get<int64_t>();
    if (n < 1 || n > 4095) {
      return std::unexpected(ErrorAt(key, fmt::format("errno {} is out of range 1..4095", n)));
    }
    return static_cast<int>(n);
  }
  if (!v->is_string()) {
    return std::unexpected(
        ErrorAt(key, fmt::format("expected an errno name like \"EPERM\", got {}", v->dump())));
  }
  int err = ErrnoFromName(v->get<std::string>());
  if (err == 0) {
    return std::unexpected(ErrorAt(key, fmt::format("unknown errno {}", v->dump())));
  }
  return err;
}

Result<void> ConfigReader::Finish() const {
  for (const auto& [key, value] : object_.items()) {
    if (!known_.contains(key)) {
      std::string list;
      for (const auto& k : known_) {
        if (k != "module") {
          list += (list.empty() ? "" : ", ") + k;
        }
      }
      return std::unexpected(ErrorAt(key, "unknown key (known: " + list + ")"));
    }
  }
  return {};
}

Result<std::optional<size_t>> ConfigReader::OneOf(std::string_view key,
                                                  std::initializer_list<std::string_view> names) {
  return OneOf(key, std::span<const std::string_view>(names.begin(), names.size()));
}

Result<std::optional<size_t>> ConfigReader::OneOf(std::string_view key,
                                                  std::span<const std::string_view> names) {
  HIJACK_ASSIGN_OR_RETURN(std::optional<std::string> value, String(key));
  if (!value) {
    return std::nullopt;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (*value == names[i]) {
      return i;
    }
  }
  std::string expected;
  if (names.size() == 2) {
    expected = fmt::format("\"{}\" or \"{}\"", names[0], names[1]);
  } else {
    expected = "one of ";
    for (size_t i = 0; i < names.size(); ++i) {
      expected += fmt::format("{}\"{}\"", i == 0 ? "" : ", ", names[i]);
    }
  }
  return std::unexpected(ErrorAt(key, fmt::format("expected {}, got \"{}\"", expected, *value)));
}

Result<std::optional<uint64_t>> ConfigReader::FlagList(
    std::string_view key, std::string_view what,
    std::span<const std::pair<std::string_view, uint64_t>> flags) {
  HIJACK_ASSIGN_OR_RETURN(auto names, StringList(key));
  if (!names) {
    return std::nullopt;
  }
  uint64_t out = 0;
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string& name = (*names)[i];
    auto it =
        std::find_if(flags.begin(), flags.end(), [&](const auto& f) { return f.first == name; });
    if (it == flags.end()) {
      std::string known;
      for (const auto& f : flags) {
        known += (known.empty() ? "" : ", ") + std::string(f.first);
      }
      return MakeError(
          fmt::format("{}/{}: unknown {} \"{}\" (known: {})", PathOf(key), i, what, name, known));
    }
    out |= it->second;
  }
  return out;
}

Result<std::vector<ConfigReader>> ConfigReader::ObjectList(std::string_view key,
                                                           std::string_view what) {
  std::vector<ConfigReader> out;
  const nlohmann::json* v = Raw(key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    return std::unexpected(
        ErrorAt(key, fmt::format("expected a list of {} objects, got {}", what, v->type_name())));
  }
  for (size_t i = 0; i < v->size(); ++i) {
    std::string path = fmt::format("{}/{}", PathOf(key), i);
    if (!(*v)[i].is_object()) {
      return MakeError(fmt::format("{}: expected a {} object", path, what));
    }
    out.emplace_back((*v)[i], std::move(path));
  }
  return out;
}

}  // namespace hijack::policy
