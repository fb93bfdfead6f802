// Each module's settings table (ModuleInfo::settings) against its factory: every key the table
// lists is accepted with a valid value, every key the factory asks for is in the table, keys
// outside it are refused by name at every depth, and the structural check derived from the
// tables (policy_schema.h) agrees with the factories on the same documents.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon/modules/builtin.h"
#include "daemon/policy/config_reader.h"
#include "daemon/policy/module_registry.h"
#include "daemon/policy/policy_schema.h"

namespace hijack::policy {
namespace {

using ::testing::HasSubstr;

// A temporary directory for the files some settings open (trace output).
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "module-settings-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Valid module objects that, together, give every setting of every module at every depth a
// value (SamplesCoverEverySetting holds them to it).
std::vector<nlohmann::json> Samples(const std::string& dir) {
  const std::string plugin = HIJACK_TEST_EXAMPLE_PLUGIN;
  return {
      {{"module", "deny"}, {"syscalls", {"mkdir"}}, {"errno", "EPERM"}},
      {{"module", "deny"}, {"syscalls", "%file"}, {"errno", 13}},
      {{"module", "stats"}, {"syscalls", "%file"}, {"latency", false}},
      {{"module", "stats"}, {"table", "strace"}, {"sort", "calls"}},
      {{"module", "trace"},
       {"syscalls", {"openat", "%net"}},
       {"output", dir + "/trace.txt"},
       {"format", "text"}},
      nlohmann::json::parse(R"({"module": "fs_guard",
          "rules": [{"allow": ["/tmp/"], "access": ["read", "write"]}, {"deny": "/etc/"}],
          "deny": ["/root/"], "allow": "/", "default": "deny", "mode": "check",
          "beneath": "/", "mounts": "allow", "handles": "allow", "errno": "EPERM"})"),
      nlohmann::json::parse(R"({"module": "net_guard",
          "connect_allow": ["127.0.0.1", {"address": "10.0.0.0/8:53", "type": ["udp"]}],
          "connect_deny": ["10.0.0.1", {"address": "10.0.0.2", "type": "tcp"}],
          "connect_default": "deny",
          "bind_allow": [{"type": "tcp"}, {"address": "127.0.0.1:80"}],
          "bind_deny": [{"address": "::1", "type": ["tcp", "udp"]}], "bind_default": "allow",
          "send_allow": ["any", {"address": "inet", "type": "udp"}],
          "send_deny": ["unix:/run/x.sock", {"address": "unix:@x*", "type": "unix-dgram"}],
          "send_default": "deny",
          "errno": "ECONNREFUSED", "connect": "emulate"})"),
      nlohmann::json::parse(R"({"module": "exec_guard", "allow": ["/usr/bin/*"],
          "deny": "/usr/bin/su", "default": "deny", "log": "none", "errno": "EPERM",
          "image": "verify"})"),
      nlohmann::json::parse(R"({"module": "ratelimit", "syscalls": ["write"], "rate": 5,
          "burst": 2, "to": ["127.0.0.1", {"address": "::1", "type": "tcp"}],
          "over_limit": "fail", "max_wait_ms": 10})"),
      nlohmann::json::parse(R"({"module": "net_guard", "bind_deny": []})"),
      nlohmann::json::parse(R"({"module": "ratelimit", "sends": true, "rate": 5})"),
      nlohmann::json::parse(R"({"module": "ratelimit",
          "buckets": [{"name": "a", "syscalls": "write", "rate": 1, "burst": 1, "priority": 1,
                       "to": [{"address": "127.0.0.1", "type": "udp"}]},
                      {"sends": ["udp"], "rate": 2}],
          "total": {"rate": 10}, "over_limit": "wait", "max_wait_ms": 100})"),
      nlohmann::json::parse(R"({"module": "ratelimit", "total": {"rate": 10},
          "streams": [{"name": "s", "match": {"type": ["udp"],
                                              "peer": ["127.0.0.1:9",
                                                       {"address": "::1", "type": "udp"}],
                                              "local_port": [5000, "6000-6001"],
                                              "direction": "receive"},
                       "rate": 5, "burst": 2, "priority": 1},
                      {"match": {"local_port": 7000}, "rate": 1}]})"),
      nlohmann::json::parse(R"({"module": "fault", "syscall": "read", "short": 1,
          "path": "/tmp/**", "probability": 0.5, "seed": 1, "after": 0, "times": 2})"),
      nlohmann::json::parse(R"({"module": "fault", "syscalls": ["openat"], "errno": "EIO"})"),
      nlohmann::json::parse(R"({"module": "fault", "syscall": "getpid", "retval": 7,
          "every": 2})"),
      {{"module", "plugin"},
       {"path", plugin},
       {"config", {{"deny", {"getppid"}}, {"errno", 1}}},
       {"on_failure", "allow"},
       {"errno", "EPERM"},
       {"timeout_ms", 500}},
      {{"module", "cpushare"}, {"budget_ms", 10}, {"period_ms", 100}, {"mechanism", "signals"}},
      {{"module", "timer"}, {"spin_us", 100}, {"max_hold_ms", 50}},
      {{"module", "timer"}, {"boost", "fifo"}, {"boost_priority", 10}, {"boost_us", 200}},
  };
}

// The JSON Pointers of every setting a table describes ("fs_guard/rules/access").
void TablePaths(const std::string& prefix, const std::vector<Setting>& settings,
                std::set<std::string>& out) {
  for (const Setting& s : settings) {
    out.insert(prefix + "/" + s.name);
    TablePaths(prefix + "/" + s.name, s.fields, out);
  }
}

// The same for a document, with list indexes left out; open objects are not walked.
void DocumentPaths(const std::string& prefix, const nlohmann::json& v,
                   std::set<std::string>& out) {
  if (v.is_array()) {
    for (const auto& item : v) {
      DocumentPaths(prefix, item, out);
    }
    return;
  }
  if (!v.is_object() || prefix.ends_with("/config")) {
    return;
  }
  for (const auto& [key, value] : v.items()) {
    if (key == "module") {
      continue;
    }
    out.insert(prefix + "/" + key);
    DocumentPaths(prefix + "/" + key, value, out);
  }
}

// Builds the module the way PolicySet does: the factory, then Finish().
Result<void> Build(const nlohmann::json& entry, std::set<std::string, std::less<>>* asked) {
  const ModuleInfo* info = modules::BuiltInModules().Find(entry.at("module").get<std::string>());
  if (info == nullptr) {
    return MakeError("no module " + entry.at("module").dump());
  }
  ConfigReader config(entry, "/modules/0");
  auto module = info->factory(config);
  if (asked != nullptr) {
    *asked = config.asked();
  }
  if (!module) {
    return std::unexpected(module.error());
  }
  return config.Finish();
}

nlohmann::json Policy(const nlohmann::json& entry) {
  return {{"version", 1}, {"modules", {entry}}};
}

std::string Describe(const std::vector<Violation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    out += v.path + ": " + v.message + "\n";
  }
  return out;
}

TEST(ModuleSettings, EveryTableRowHasADescriptionAndATypeAndNamesAreUnique) {
  for (const ModuleInfo* info : modules::BuiltInModules().List()) {
    std::set<std::string> names;
    for (const Setting& s : info->settings) {
      EXPECT_FALSE(s.description.empty()) << info->name << "/" << s.name;
      EXPECT_NE(s.types, 0u) << info->name << "/" << s.name;
      EXPECT_TRUE(names.insert(s.name).second) << info->name << ": " << s.name << " twice";
      EXPECT_NE(s.name, "module") << info->name;
    }
  }
}

TEST(ModuleSettings, SamplesCoverEverySetting) {
  TempDir dir;
  std::set<std::string> table;
  for (const ModuleInfo* info : modules::BuiltInModules().List()) {
    TablePaths(info->name, info->settings, table);
  }
  std::set<std::string> given;
  for (const nlohmann::json& entry : Samples(dir.path())) {
    DocumentPaths(entry.at("module").get<std::string>(), entry, given);
  }
  for (const std::string& path : table) {
    EXPECT_TRUE(given.contains(path)) << path << " has no value in Samples(): add one";
  }
  for (const std::string& path : given) {
    EXPECT_TRUE(table.contains(path)) << path << " is in a sample but in no settings table";
  }
}

TEST(ModuleSettings, FactoriesAcceptEveryListedKeyAndAskForNoOther) {
  TempDir dir;
  for (const nlohmann::json& entry : Samples(dir.path())) {
    std::set<std::string, std::less<>> asked;
    auto built = Build(entry, &asked);
    ASSERT_TRUE(built) << entry.dump() << ": " << built.error().message;
    const ModuleInfo* info = modules::BuiltInModules().Find(entry.at("module").get<std::string>());
    std::set<std::string> listed{"module"};
    for (const Setting& s : info->settings) {
      listed.insert(s.name);
    }
    for (const std::string& key : asked) {
      EXPECT_TRUE(listed.contains(key))
          << info->name << "'s factory reads \"" << key << "\", which its Info() does not list";
    }
  }
}

// Every module asked with nothing but its name, the way ListModules does: the keys even a
// refused default asks for are listed.
TEST(ModuleSettings, FactoriesOfBareModulesAskOnlyForListedKeys) {
  for (const ModuleInfo* info : modules::BuiltInModules().List()) {
    std::set<std::string, std::less<>> asked;
    (void)Build({{"module", info->name}}, &asked);
    for (const std::string& key : asked) {
      EXPECT_TRUE(key == "module" || std::ranges::any_of(info->settings, [&](const Setting& s) {
                    return s.name == key;
                  })) << info->name << " reads \"" << key << "\"";
    }
  }
}

// Adds "bogus" to every object of `v` that a reader reads (not the plugin's own config), one
// at a time, calling `each` with the document and the JSON Pointer of the new key.
void ForEachObject(nlohmann::json& root, nlohmann::json& v, const std::string& path,
                   const std::function<void(const nlohmann::json&, const std::string&)>& each) {
  if (path.ends_with("/config")) {
    return;
  }
  if (v.is_object()) {
    v["bogus"] = 1;
    each(root, path + "/bogus");
    v.erase("bogus");
    for (auto& [key, value] : v.items()) {
      ForEachObject(root, value, path + "/" + key, each);
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      ForEachObject(root, v[i], path + "/" + std::to_string(i), each);
    }
  }
}

TEST(ModuleSettings, UnknownKeysAreRefusedByNameAtEveryDepth) {
  TempDir dir;
  size_t tried = 0;
  for (nlohmann::json entry : Samples(dir.path())) {
    ForEachObject(entry, entry, "/modules/0", [&](const nlohmann::json& doc, const std::string& at) {
      ++tried;
      auto built = Build(doc, nullptr);
      ASSERT_FALSE(built) << doc.dump() << " was accepted";
      EXPECT_THAT(built.error().message, HasSubstr(at + ": unknown key (known: "))
          << doc.dump();
      auto violations = CheckPolicyStructure(Policy(doc), modules::BuiltInModules());
      ASSERT_EQ(violations.size(), 1u) << doc.dump() << "\n" << Describe(violations);
      EXPECT_EQ(violations[0].path, at);
      EXPECT_THAT(violations[0].message, HasSubstr("unknown key (known: "));
    });
  }
  EXPECT_GE(tried, 20u);
}

TEST(ModuleSettings, StructureCheckAcceptsEverySample) {
  TempDir dir;
  for (const nlohmann::json& entry : Samples(dir.path())) {
    auto violations = CheckPolicyStructure(Policy(entry), modules::BuiltInModules());
    EXPECT_TRUE(violations.empty()) << entry.dump() << "\n" << Describe(violations);
  }
}

struct BadSetting {
  std::string entry;
  std::string path;
  std::string message;
};

// Each bad value is refused by the structural check and by the module's own reader, both at
// the same JSON path.
TEST(ModuleSettings, StructureCheckAndReadersRefuseTheSameValuesAtTheSamePath) {
  const std::vector<BadSetting> cases = {
      {R"({"module": "trace", "format": "xml"})", "/modules/0/format",
       "expected \"json\" or \"text\", got \"xml\""},
      {R"({"module": "stats", "latency": 1})", "/modules/0/latency", "expected true or false"},
      {R"({"module": "deny", "syscalls": [1]})", "/modules/0/syscalls/0", "expected a string"},
      {R"({"module": "deny"})", "/modules/0/syscalls", "missing"},
      {R"({"module": "deny", "syscalls": "read", "errno": 0})", "/modules/0/errno",
       "out of range"},
      {R"({"module": "deny", "syscalls": "read", "errno": [1]})", "/modules/0/errno",
       "expected"},
      {R"({"module": "fs_guard", "rules": [{"deny": ["/x"], "access": ["rede"]}]})",
       "/modules/0/rules/0/access/0", "\"rede\""},
      {R"({"module": "fs_guard", "rules": {"deny": ["/x"]}})", "/modules/0/rules", "expected"},
      {R"({"module": "fs_guard", "rules": ["/x"]})", "/modules/0/rules/0", "expected"},
      {R"({"module": "net_guard", "connect_allow": [{"address": "any", "type": ["tpc"]}]})",
       "/modules/0/connect_allow/0/type/0", "\"tpc\""},
      {R"({"module": "net_guard", "connect_allow": [7]})", "/modules/0/connect_allow/0",
       "expected"},
      {R"({"module": "ratelimit", "syscalls": ["write"], "rate": -1})", "/modules/0/rate",
       "-1 is out of range (expected 0.001 .. 1000000000)"},
      {R"({"module": "ratelimit", "buckets": [{"syscalls": "write"}]})",
       "/modules/0/buckets/0/rate", "missing"},
      {R"({"module": "ratelimit", "sends": false, "rate": 1})", "/modules/0/sends",
       "expected true"},
      {R"({"module": "ratelimit", "syscalls": "write", "rate": 1, "total": {"rate": "x"}})",
       "/modules/0/total/rate", "expected a number"},
      {R"({"module": "plugin", "path": "/x.so", "timeout_ms": 0})", "/modules/0/timeout_ms",
       "0 is out of range (expected 1 .. 3600000)"},
      {R"({"module": "plugin", "path": "/x.so", "config": []})", "/modules/0/config",
       "expected an object"},
      {R"({"module": "fault", "syscall": "read", "probability": "1"})",
       "/modules/0/probability", "expected a number"},
  };
  for (const BadSetting& c : cases) {
    const nlohmann::json entry = nlohmann::json::parse(c.entry);
    auto violations = CheckPolicyStructure(Policy(entry), modules::BuiltInModules());
    ASSERT_EQ(violations.size(), 1u) << c.entry << "\n" << Describe(violations);
    EXPECT_EQ(violations[0].path, c.path) << c.entry;
    EXPECT_THAT(violations[0].message, HasSubstr(c.message)) << c.entry;
    auto built = Build(entry, nullptr);
    ASSERT_FALSE(built) << c.entry;
    EXPECT_THAT(built.error().message, HasSubstr(c.path + ":")) << c.entry;
  }
}

TEST(ModuleSettings, StructureCheckReportsEveryViolationNotOnlyTheFirst) {
  const nlohmann::json doc = nlohmann::json::parse(R"({"version": 1, "extra": 1, "modules": [
      {"module": "trace", "format": "xml", "outptu": "x"},
      {"module": "nosuch"},
      {"module": "fs_guard", "rules": [{"deny": "/x", "access": "rede"}], "mode": 1}]})");
  auto violations = CheckPolicyStructure(doc, modules::BuiltInModules());
  std::vector<std::string> paths;
  for (const auto& v : violations) {
    paths.push_back(v.path);
  }
  EXPECT_THAT(paths, ::testing::ElementsAre("/extra", "/modules/0/format", "/modules/0/outptu",
                                            "/modules/1/module", "/modules/2/mode",
                                            "/modules/2/rules/0/access"))
      << Describe(violations);
}

}  // namespace
}  // namespace hijack::policy
