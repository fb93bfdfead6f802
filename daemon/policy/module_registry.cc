#include "daemon/policy/module_registry.h"

#include <fmt/format.h>

namespace hijack::policy {
namespace setting {
namespace {

Setting Make(std::string name, std::string description, unsigned types, unsigned items = 0) {
  Setting s;
  s.name = std::move(name);
  s.description = std::move(description);
  s.types = types;
  s.item_types = items;
  return s;
}

}  // namespace

Setting Text(std::string name, std::string description) {
  return Make(std::move(name), std::move(description), kJsonString);
}

Setting Strings(std::string name, std::string description) {
  return Make(std::move(name), std::move(description), kJsonString | kJsonList, kJsonString);
}

Setting Syscalls(std::string name, std::string description) {
  return Strings(std::move(name), std::move(description));
}

Setting Errno(std::string description, std::string fallback) {
  Setting s = Make("errno", std::move(description), kJsonString | kJsonInteger);
  s.minimum = 1;
  s.maximum = 4095;
  s.range_error = "errno {} is out of range 1..4095";  // ConfigReader::Errno's words
  s.default_value = std::move(fallback);
  return s;
}

Setting Choice(std::string name, std::string description, std::vector<std::string> choices) {
  Setting s = Make(std::move(name), std::move(description), kJsonString);
  s.choices = std::move(choices);
  return s;
}

Setting Flags(std::string name, std::string description, std::vector<std::string> choices) {
  Setting s = Strings(std::move(name), std::move(description));
  s.choices = std::move(choices);
  return s;
}

Setting Integer(std::string name, std::string description) {
  return Make(std::move(name), std::move(description), kJsonInteger);
}

Setting Number(std::string name, std::string description) {
  return Make(std::move(name), std::move(description), kJsonNumber);
}

Setting Boolean(std::string name, std::string description) {
  return Make(std::move(name), std::move(description), kJsonBoolean);
}

Setting Object(std::string name, std::string description, std::vector<Setting> fields) {
  Setting s = Make(std::move(name), std::move(description), kJsonObject);
  s.fields = std::move(fields);
  return s;
}

Setting ObjectList(std::string name, std::string description, std::vector<Setting> fields) {
  Setting s = Make(std::move(name), std::move(description), kJsonList, kJsonObject);
  s.fields = std::move(fields);
  return s;
}

Setting OpenObject(std::string name, std::string description) {
  Setting s = Make(std::move(name), std::move(description), kJsonObject);
  s.open = true;
  return s;
}

}  // namespace setting

namespace {

// The words of each JsonType bit of `types`, in a fixed order.
void TypeWords(unsigned types, bool plural, std::optional<bool> only_boolean,
               std::vector<std::string>& words) {
  if (types & kJsonBoolean) {
    words.push_back(only_boolean ? (*only_boolean ? "true" : "false")
                                 : plural ? "booleans" : "a boolean");
  }
  if (types & kJsonInteger) {
    words.push_back(plural ? "integers" : "an integer");
  }
  if (types & kJsonNumber) {
    words.push_back(plural ? "numbers" : "a number");
  }
  if (types & kJsonString) {
    words.push_back(plural ? "strings" : "a string");
  }
  if (types & kJsonObject) {
    words.push_back(plural ? "objects" : "an object");
  }
}

std::string Alternatives(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  }
  return out;
}

}  // namespace

std::string DescribeTypes(const Setting& s) {
  std::vector<std::string> words;
  TypeWords(s.types & ~kJsonList, false, s.only_boolean, words);
  if (s.types & kJsonList) {
    std::vector<std::string> items;
    TypeWords(s.item_types, true, std::nullopt, items);
    words.push_back("a list of " + Alternatives(items));
  }
  return Alternatives(words);
}

std::string DescribeSetting(const Setting& s) {
  std::string out = s.description + " (" + (s.required ? "required; " : "") + DescribeTypes(s);
  if (!s.choices.empty()) {
    out += ": ";
    for (size_t i = 0; i < s.choices.size(); ++i) {
      out += (i == 0 ? "" : ", ") + s.choices[i];
    }
  }
  if (s.minimum && s.maximum) {
    out += fmt::format(", {} .. {}", *s.minimum, *s.maximum);
  } else if (s.minimum) {
    out += fmt::format(", at least {}", *s.minimum);
  } else if (s.maximum) {
    out += fmt::format(", at most {}", *s.maximum);
  }
  if (!s.fields.empty()) {
    out += "; keys: ";
    for (size_t i = 0; i < s.fields.size(); ++i) {
      out += (i == 0 ? "" : ", ") + s.fields[i].name;
    }
  }
  if (!s.default_value.is_null()) {
    out += "; default " + s.default_value.dump();
  }
  return out + ")";
}

void ModuleRegistry::Register(ModuleInfo info) {
  std::string name = info.name;
  modules_.insert_or_assign(std::move(name), std::move(info));
}

const ModuleInfo* ModuleRegistry::Find(std::string_view name) const {
  auto it = modules_.find(name);
  return it == modules_.end() ? nullptr : &it->second;
}

std::vector<const ModuleInfo*> ModuleRegistry::List() const {
  std::vector<const ModuleInfo*> out;
  for (const auto& [name, info] : modules_) {
    out.push_back(&info);
  }
  return out;
}

}  // namespace hijack::policy
