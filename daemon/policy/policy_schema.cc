#include "daemon/policy/policy_schema.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/bounded_file.h"
#include "common/bounded_json.h"
#include "daemon/policy/policy_set.h"

namespace hijack::policy {
namespace {

constexpr int kPolicyFormatVersion = 1;

// ---- The schema -------------------------------------------------------------------------

nlohmann::json ObjectSchema(const std::vector<Setting>& fields, bool open,
                            const nlohmann::json& extra_properties);

// The schema of one alternative of a value: `type` is one JsonType bit.
nlohmann::json ScalarSchema(const Setting& s, unsigned type) {
  nlohmann::json out;
  switch (type) {
    case kJsonString:
      out["type"] = "string";
      if (!s.choices.empty()) {
        out["enum"] = s.choices;
      }
      return out;
    case kJsonInteger:
    case kJsonNumber:
      out["type"] = type == kJsonInteger ? "integer" : "number";
      if (s.minimum) {
        out["minimum"] = type == kJsonInteger ? nlohmann::json(static_cast<int64_t>(*s.minimum))
                                              : nlohmann::json(*s.minimum);
      }
      if (s.maximum) {
        out["maximum"] = type == kJsonInteger ? nlohmann::json(static_cast<int64_t>(*s.maximum))
                                              : nlohmann::json(*s.maximum);
      }
      return out;
    case kJsonBoolean:
      if (s.only_boolean) {
        return {{"const", *s.only_boolean}};
      }
      return {{"type", "boolean"}};
    case kJsonObject:
      return ObjectSchema(s.fields, s.open, nullptr);
    default:
      return {};
  }
}

nlohmann::json AnyOf(nlohmann::json alternatives) {
  if (alternatives.size() == 1) {
    return std::move(alternatives[0]);
  }
  return {{"anyOf", std::move(alternatives)}};
}

nlohmann::json SettingSchema(const Setting& s) {
  nlohmann::json alternatives = nlohmann::json::array();
  for (unsigned type : {kJsonBoolean, kJsonInteger, kJsonNumber, kJsonString, kJsonObject}) {
    if (s.types & type) {
      alternatives.push_back(ScalarSchema(s, type));
    }
  }
  if (s.types & kJsonList) {
    nlohmann::json items = nlohmann::json::array();
    for (unsigned type : {kJsonString, kJsonObject}) {
      if (s.item_types & type) {
        items.push_back(ScalarSchema(s, type));
      }
    }
    alternatives.push_back({{"type", "array"}, {"items", AnyOf(std::move(items))}});
  }
  nlohmann::json out = AnyOf(std::move(alternatives));
  out["description"] = s.description;
  if (!s.default_value.is_null()) {
    out["default"] = s.default_value;
  }
  return out;
}

nlohmann::json ObjectSchema(const std::vector<Setting>& fields, bool open,
                            const nlohmann::json& extra_properties) {
  nlohmann::json out = {{"type", "object"}};
  if (open) {
    return out;
  }
  nlohmann::json properties = extra_properties.is_null() ? nlohmann::json::object()
                                                         : extra_properties;
  nlohmann::json required = nlohmann::json::array();
  for (const Setting& f : fields) {
    properties[f.name] = SettingSchema(f);
    if (f.required) {
      required.push_back(f.name);
    }
  }
  out["properties"] = std::move(properties);
  if (!required.empty()) {
    out["required"] = std::move(required);
  }
  out["additionalProperties"] = false;
  return out;
}

// ---- The check --------------------------------------------------------------------------

class StructureCheck {
 public:
  explicit StructureCheck(std::vector<Violation>& out) : out_(out) {}

  void Add(std::string path, std::string message) {
    out_.push_back({std::move(path), std::move(message)});
  }

  // The keys of `object` (at `path`) against `fields`; `implied` keys are known without a row.
  void Object(const nlohmann::json& object, const std::string& path,
              const std::vector<Setting>& fields, std::initializer_list<std::string_view> implied) {
    for (const auto& [key, value] : object.items()) {
      if (std::ranges::find(implied, key) != implied.end()) {
        continue;
      }
      auto row = std::ranges::find_if(fields, [&](const Setting& f) { return f.name == key; });
      if (row == fields.end()) {
        std::vector<std::string> names;
        for (const Setting& f : fields) {
          names.push_back(f.name);
        }
        std::ranges::sort(names);
        Add(path + "/" + key, fmt::format("unknown key (known: {})", fmt::join(names, ", ")));
        continue;
      }
      Value(value, path + "/" + key, *row);
    }
    for (const Setting& f : fields) {
      if (f.required && !object.contains(f.name)) {
        Add(path + "/" + f.name, "missing (" + f.description + ")");
      }
    }
  }

  void Value(const nlohmann::json& v, const std::string& path, const Setting& s) {
    if (v.is_array() && (s.types & kJsonList)) {
      for (size_t i = 0; i < v.size(); ++i) {
        Item(v[i], fmt::format("{}/{}", path, i), s);
      }
      return;
    }
    const unsigned type = TypeOf(v);
    if ((s.types & type) == 0) {
      Add(path, Expected(s, v));
      return;
    }
    Accepted(v, path, s, type);
  }

 private:
  // One item of a list setting.
  void Item(const nlohmann::json& v, const std::string& path, const Setting& s) {
    const unsigned type = TypeOf(v);
    if ((s.item_types & type) == 0) {
      Setting item = s;
      item.types = s.item_types;
      item.only_boolean.reset();
      Add(path, Expected(item, v));
      return;
    }
    Accepted(v, path, s, type);
  }

  // A value whose JSON type the setting takes: its choices, range or keys.
  void Accepted(const nlohmann::json& v, const std::string& path, const Setting& s,
                unsigned type) {
    if (type == kJsonString && !s.choices.empty()) {
      const std::string value = v.get<std::string>();
      if (std::ranges::find(s.choices, value) == s.choices.end()) {
        Add(path, fmt::format("expected {}, got \"{}\"", Choices(s.choices), value));
      }
    } else if (type == kJsonBoolean && s.only_boolean && v.get<bool>() != *s.only_boolean) {
      Setting others;
      others.types = s.types & ~kJsonBoolean;
      others.item_types = s.item_types;
      Add(path, fmt::format("expected {} or {}, got {}", *s.only_boolean ? "true" : "false",
                            DescribeTypes(others), v.dump()));
    } else if ((type & (kJsonInteger | kJsonNumber)) != 0) {
      Range(v, path, s);
    } else if (type == kJsonObject && !s.open) {
      Object(v, path, s.fields, {});
    }
  }

  void Range(const nlohmann::json& v, const std::string& path, const Setting& s) {
    // Text's non-negative integers are unsigned in nlohmann::json: compared as such.
    const bool below = s.minimum && (v.is_number_unsigned()
                                         ? static_cast<double>(v.get<uint64_t>()) < *s.minimum
                                         : v.get<double>() < *s.minimum);
    const bool above = s.maximum && (v.is_number_unsigned()
                                         ? v.get<uint64_t>() > static_cast<uint64_t>(*s.maximum)
                                         : v.get<double>() > *s.maximum);
    if (!below && !above) {
      return;
    }
    if (!s.range_error.empty()) {
      Add(path, fmt::format(fmt::runtime(s.range_error), v.dump()));
    } else if (s.minimum && s.maximum) {
      Add(path, fmt::format("{} is out of range (expected {} .. {})", v.dump(), *s.minimum,
                            *s.maximum));
    } else if (s.maximum) {
      Add(path, fmt::format("{} is out of range (at most {})", v.dump(), *s.maximum));
    } else {
      Add(path, fmt::format("{} is out of range (at least {})", v.dump(), *s.minimum));
    }
  }

  // The JsonType of a value: integers are numbers too, so a number setting takes 3.
  static unsigned TypeOf(const nlohmann::json& v) {
    if (v.is_string()) {
      return kJsonString;
    }
    if (v.is_boolean()) {
      return kJsonBoolean;
    }
    if (v.is_number_integer()) {
      return kJsonInteger | kJsonNumber;
    }
    if (v.is_number()) {
      return kJsonNumber;
    }
    if (v.is_object()) {
      return kJsonObject;
    }
    if (v.is_array()) {
      return kJsonList;
    }
    return 0;  // null
  }

  // ConfigReader's words for a value of the wrong type.
  static std::string Expected(const Setting& s, const nlohmann::json& v) {
    const std::string got = v.is_object() || v.is_array() || v.is_null()
                                ? std::string(v.type_name())
                                : v.dump();
    if (s.types == kJsonBoolean) {
      return "expected true or false, got " + got;
    }
    if (s.types == kJsonString && !s.choices.empty()) {
      return fmt::format("expected {}, got {}", Choices(s.choices), got);
    }
    return "expected " + DescribeTypes(s) + ", got " + got;
  }

  static std::string Choices(const std::vector<std::string>& names) {
    if (names.size() == 2) {
      return fmt::format("\"{}\" or \"{}\"", names[0], names[1]);
    }
    std::string out = "one of ";
    for (size_t i = 0; i < names.size(); ++i) {
      out += fmt::format("{}\"{}\"", i == 0 ? "" : ", ", names[i]);
    }
    return out;
  }

  std::vector<Violation>& out_;
};

std::string ModuleNames(const ModuleRegistry& registry) {
  std::string known;
  for (const ModuleInfo* m : registry.List()) {
    known += (known.empty() ? "" : ", ") + m->name;
  }
  return known;
}

}  // namespace

nlohmann::json PolicySchema(const ModuleRegistry& registry) {
  nlohmann::json defs = nlohmann::json::object();
  nlohmann::json names = nlohmann::json::array();
  nlohmann::json dispatch = nlohmann::json::array();
  for (const ModuleInfo* info : registry.List()) {
    names.push_back(info->name);
    nlohmann::json module = ObjectSchema(
        info->settings, false,
        {{"module", {{"const", info->name}, {"description", "the module's name"}}}});
    module["description"] = info->summary;
    module["required"].push_back("module");
    defs[info->name] = std::move(module);
    dispatch.push_back(
        {{"if", {{"properties", {{"module", {{"const", info->name}}}}}, {"required", {"module"}}}},
         {"then", {{"$ref", "#/$defs/" + info->name}}}});
  }
  nlohmann::json entry = {
      {"type", "object"},
      {"required", {"module"}},
      {"properties", {{"module", {{"enum", names}, {"description", "which module"}}}}},
      {"allOf", std::move(dispatch)},
  };
  return {
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"title", "Hijack policy"},
      {"description",
       "A policy of hijackd (hijack-policy(5)): an ordered list of module instances. Generated "
       "from the module registry by `hijackd schema`."},
      {"type", "object"},
      {"required", {"version", "modules"}},
      {"additionalProperties", false},
      {"properties",
       {{"version", {{"const", kPolicyFormatVersion}, {"description", "the policy format"}}},
        {"description", {{"type", "string"}, {"description", "what the policy is for"}}},
        {"modules",
         {{"type", "array"},
          {"maxItems", kMaxModules},
          {"description", "module instances, in the order they decide"},
          {"items", std::move(entry)}}}}},
      {"$defs", std::move(defs)},
  };
}

std::vector<Violation> CheckPolicyStructure(const nlohmann::json& doc,
                                            const ModuleRegistry& registry) {
  std::vector<Violation> out;
  StructureCheck check(out);
  // The words of PolicySet::FromJson, which checks the same before any module reads.
  if (!doc.is_object()) {
    check.Add("/", fmt::format("expected a policy object, got {}", doc.type_name()));
    return out;
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "version" && key != "modules" && key != "description") {
      check.Add("/" + key, "unknown key (known: version, modules, description)");
    }
  }
  auto version = doc.find("version");
  if (version == doc.end()) {
    check.Add("/version", "missing (this daemon reads policy format 1)");
  } else if (!version->is_number_integer() || version->get<int64_t>() != kPolicyFormatVersion) {
    check.Add("/version", fmt::format("unsupported policy format {} (this daemon reads 1)",
                                      version->dump()));
  }
  if (auto d = doc.find("description"); d != doc.end() && !d->is_string()) {
    check.Add("/description", fmt::format("expected a string, got {}", d->type_name()));
  }
  auto modules = doc.find("modules");
  if (modules == doc.end()) {
    check.Add("/modules", "missing (a list of module objects)");
    return out;
  }
  if (!modules->is_array()) {
    check.Add("/modules", fmt::format("expected a list, got {}", modules->type_name()));
    return out;
  }
  if (modules->size() > kMaxModules) {
    check.Add("/modules", fmt::format("{} module instances, more than the limit of {}",
                                      modules->size(), kMaxModules));
    return out;
  }
  for (size_t i = 0; i < modules->size(); ++i) {
    const nlohmann::json& entry = (*modules)[i];
    const std::string path = fmt::format("/modules/{}", i);
    if (!entry.is_object()) {
      check.Add(path, fmt::format("expected a module object, got {}", entry.type_name()));
      continue;
    }
    auto name = entry.find("module");
    if (name == entry.end() || !name->is_string()) {
      check.Add(path + "/module", "missing module name (a string)");
      continue;
    }
    const ModuleInfo* info = registry.Find(name->get<std::string>());
    if (info == nullptr) {
      check.Add(path + "/module", fmt::format("unknown module {} (known: {})", name->dump(),
                                              ModuleNames(registry)));
      continue;
    }
    check.Object(entry, path, info->settings, {"module"});
  }
  return out;
}

std::vector<Violation> CheckPolicyFile(const std::string& path, const ModuleRegistry& registry) {
  auto text = common::ReadBoundedFile(path, kMaxPolicyBytes);
  if (!text) {
    return {};
  }
  auto doc = common::ParseBoundedJson(*text);
  if (!doc || doc->is_discarded()) {
    return {};
  }
  return CheckPolicyStructure(*doc, registry);
}

}  // namespace hijack::policy
