// The generated documentation as a user meets it: the manual pages the build made render
// without a groff warning and cover every command, option, module and setting; the checked-in
// JSON Schema is the one hijackd prints; a third-party validator (python3-jsonschema) and
// `hijackd check` agree on every example policy and on bad documents; the bash completion
// completes commands, options and choices in a real bash, and the zsh one parses in zsh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
constexpr const char* kHijackctl = HIJACK_TEST_HIJACKCTL;
const std::string kManDir = HIJACK_TEST_MAN_DIR;
const std::string kSourceDir = HIJACK_TEST_SOURCE_DIR;

ProcessResult Exec(const std::vector<std::string>& argv) {
  ProcessResult r = RunProcess(argv);
  EXPECT_FALSE(r.timed_out) << argv[0];
  return r;
}

ProcessOptions Env(std::vector<std::string> env) {
  ProcessOptions options;
  options.env_add = std::move(env);
  return options;
}

// ---- manual pages ------------------------------------------------------------------------

class ManPage : public ::testing::TestWithParam<std::string> {};

TEST_P(ManPage, RendersWithoutWarnings) {
  const std::string page = kManDir + "/" + GetParam();
  ASSERT_TRUE(std::filesystem::exists(page)) << page;
  ProcessResult groff = Exec({"/usr/bin/groff", "-man", "-ww", "-z", "-Tutf8", page});
  EXPECT_EQ(groff.exit_code, 0) << groff.err;
  EXPECT_THAT(groff.err, IsEmpty());
  ProcessResult man = RunProcess({"/usr/bin/man", "--warnings", "-l", page},
                                 Env({"MANPAGER=cat", "MANWIDTH=80", "LC_ALL=C"}));
  EXPECT_EQ(man.exit_code, 0) << man.err;
  EXPECT_THAT(man.err, IsEmpty());
  EXPECT_THAT(man.out, Not(IsEmpty()));
}

INSTANTIATE_TEST_SUITE_P(Generated, ManPage,
                         ::testing::Values("hijackd.8", "hijackctl.1", "hijack-policy.5"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::ranges::replace_if(
                               name, [](char c) { return !std::isalnum(c); }, '_');
                           return name;
                         });

// The page the build made is what the program prints now.
TEST(ManPages, BuiltPagesAreWhatTheProgramsPrint) {
  EXPECT_EQ(Exec({kHijackd, "man"}).out, ReadFile(kManDir + "/hijackd.8"));
  EXPECT_EQ(Exec({kHijackd, "man", "policy"}).out, ReadFile(kManDir + "/hijack-policy.5"));
  EXPECT_EQ(Exec({kHijackctl, "man"}).out, ReadFile(kManDir + "/hijackctl.1"));
}

// The subcommand names `PROGRAM --help` lists under "SUBCOMMANDS:".
std::vector<std::string> HelpCommands(const std::string& program,
                                      const std::vector<std::string>& path) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), path.begin(), path.end());
  argv.push_back("--help");
  ProcessResult r = Exec(argv);
  std::vector<std::string> out;
  std::istringstream lines(r.out);
  bool in = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "Subcommands:" || line == "SUBCOMMANDS:") {
      in = true;
      continue;
    }
    if (in && line.starts_with("  ")) {
      out.push_back(line.substr(2, line.find(' ', 2) - 2));
    } else if (in && !line.empty()) {
      in = false;
    }
  }
  return out;
}

// A page's text without its font changes and escaped dashes: what a reader sees, before line
// filling could break a name in two.
std::string Text(const std::string& page) {
  std::string text = ReadFile(page);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "\\fB") == 0 || text.compare(i, 3, "\\fR") == 0 ||
        text.compare(i, 3, "\\fI") == 0) {
      i += 2;
    } else if (text.compare(i, 2, "\\-") == 0) {
      out += '-';
      i += 1;
    } else {
      out += text[i];
    }
  }
  return out;
}

TEST(ManPages, EveryCommandAndOptionOfTheHelpIsInThePage) {
  for (const auto& [program, page] : {std::pair{kHijackd, "hijackd.8"},
                                      std::pair{kHijackctl, "hijackctl.1"}}) {
    const std::string text = Text(kManDir + "/" + page);
    const std::string name = std::filesystem::path(program).filename();
    const auto commands = HelpCommands(program, {});
    ASSERT_GE(commands.size(), 4u) << program;
    for (const std::string& command : commands) {
      EXPECT_THAT(text, HasSubstr(name + " " + command)) << page;
      // Every long option the command's --help shows.
      ProcessResult help = Exec({program, command, "--help"});
      std::istringstream lines(help.out);
      for (std::string line; std::getline(lines, line);) {
        const size_t at = line.find("--");
        if (line.starts_with("  ") && at != std::string::npos && at < 12) {
          std::string option = line.substr(at, line.find_first_of(" ,=", at) - at);
          if (option != "--help") {
            EXPECT_THAT(text, HasSubstr(option)) << page << ": " << command;
          }
        }
      }
    }
  }
}

// Every module and every setting of the schema (the registry's tables) is in hijack-policy(5).
TEST(ManPages, PolicyPageHasEveryModuleSettingAndExample) {
  const nlohmann::json schema = nlohmann::json::parse(Exec({kHijackd, "schema"}).out);
  const std::string text = Text(kManDir + "/hijack-policy.5");
  size_t settings = 0;
  for (const auto& [module, def] : schema.at("$defs").items()) {
    EXPECT_THAT(text, HasSubstr("\n.SS " + module + "\n")) << module;
    for (const auto& [key, value] : def.at("properties").items()) {
      ++settings;
      EXPECT_THAT(text, HasSubstr(key)) << module << "/" << key;
    }
  }
  EXPECT_GE(settings, 50u);
  for (const auto& entry : std::filesystem::directory_iterator(kSourceDir + "/policies")) {
    if (entry.path().extension() == ".json") {
      EXPECT_THAT(text, HasSubstr(entry.path().filename().string()));
    }
  }
}

// ---- the JSON Schema ---------------------------------------------------------------------

TEST(PolicySchema, CheckedInSchemaIsTheGeneratorsOutput) {
  ProcessResult r = Exec({kHijackd, "schema"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ReadFile(kSourceDir + "/docs/policy.schema.json"))
      << "docs/policy.schema.json is stale: regenerate it with `hijackd schema > "
         "docs/policy.schema.json`";
  const nlohmann::json schema = nlohmann::json::parse(r.out);
  EXPECT_EQ(schema.at("$schema"), "https://json-schema.org/draft/2020-12/schema");
}

// Validates each file against the schema with python3-jsonschema; one line per file: "ok" or
// the first error's JSON Pointer.
std::vector<std::string> ThirdPartyVerdicts(const std::string& schema,
                                            const std::vector<std::string>& files) {
  std::vector<std::string> argv{
      "/usr/bin/python3", "-c",
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "jsonschema.Draft202012Validator.check_schema(schema)\n"
      "v = jsonschema.Draft202012Validator(schema)\n"
      "for f in sys.argv[2:]:\n"
      "    errors = list(v.iter_errors(json.load(open(f))))\n"
      "    print('ok' if not errors else 'bad ' + '/' + '/'.join(\n"
      "        str(p) for p in min(errors, key=lambda e: len(e.absolute_path)).absolute_path))\n",
      schema};
  argv.insert(argv.end(), files.begin(), files.end());
  ProcessResult r = Exec(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    out.push_back(line);
  }
  EXPECT_EQ(out.size(), files.size()) << r.out << r.err;
  return out;
}

struct Document {
  std::string name;
  std::string json;
  std::string violation;  // empty: valid; else what `hijackd check` must report
};

TEST(PolicySchema, ThirdPartyValidatorAndCheckAgree) {
  TempDir dir;
  const std::string schema = dir.Write("schema.json", Exec({kHijackd, "schema"}).out);
  std::vector<Document> docs;
  for (const auto& entry : std::filesystem::directory_iterator(kSourceDir + "/policies")) {
    if (entry.path().extension() == ".json") {
      docs.push_back({entry.path().filename(), ReadFile(entry.path()), ""});
    }
  }
  ASSERT_GE(docs.size(), 9u);
  auto modules = [](const std::string& m) { return R"({"version": 1, "modules": [)" + m + "]}"; };
  const std::vector<Document> more = {
      {"nested-valid", modules(R"({"module": "ratelimit", "buckets": [{"sends": ["udp"],
         "rate": 2, "to": [{"address": "127.0.0.1", "type": "udp"}]}], "total": {"rate": 4}})"),
       ""},
      {"wrong-type", modules(R"({"module": "stats", "latency": "no"})"),
       "/modules/0/latency: expected true or false, got \"no\""},
      {"bad-enum", modules(R"({"module": "trace", "format": "xml"})"),
       "/modules/0/format: expected \"json\" or \"text\", got \"xml\""},
      {"unknown-key", modules(R"({"module": "deny", "syscalls": ["read"], "erno": "EPERM"})"),
       "/modules/0/erno: unknown key (known: errno, syscalls)"},
      {"nested-unknown-key",
       modules(R"({"module": "fs_guard", "rules": [{"deny": ["/x"], "acess": ["read"]}]})"),
       "/modules/0/rules/0/acess: unknown key (known: access, allow, deny)"},
      {"nested-bad-enum",
       modules(R"({"module": "net_guard", "connect_allow": [{"type": ["tpc"]}]})"),
       "/modules/0/connect_allow/0/type/0: expected one of"},
      {"nested-wrong-type",
       modules(R"({"module": "ratelimit", "syscalls": "write", "rate": 1, "total": {"rate": "1"}})"),
       "/modules/0/total/rate: expected a number, got \"1\""},
      {"missing-required", modules(R"({"module": "deny"})"), "/modules/0/syscalls: missing"},
      {"out-of-range", modules(R"({"module": "plugin", "path": "/x.so", "timeout_ms": 0})"),
       "/modules/0/timeout_ms: 0 is out of range (expected 1 .. 3600000)"},
      {"unknown-module", modules(R"({"module": "firewall"})"),
       "/modules/0/module: unknown module \"firewall\""},
      {"top-level", R"({"version": 2, "modules": [], "extra": true})",
       "/extra: unknown key (known: version, modules, description)"},
  };
  docs.insert(docs.end(), more.begin(), more.end());
  std::vector<std::string> files;
  for (const Document& d : docs) {
    files.push_back(dir.Write(d.name + (d.name.ends_with(".json") ? "" : ".json"), d.json));
  }
  const std::vector<std::string> verdicts = ThirdPartyVerdicts(schema, files);
  ASSERT_EQ(verdicts.size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    ProcessResult check = Exec({kHijackd, "check", files[i]});
    if (docs[i].violation.empty()) {
      EXPECT_EQ(verdicts[i], "ok") << docs[i].name;
      // A valid shape: anything check refuses is a module's own finding (the example plugin's
      // installed path), never a structural one.
      if (docs[i].name != "plugin.json") {
        EXPECT_EQ(check.exit_code, 0) << docs[i].name << ": " << check.err;
      } else {
        EXPECT_THAT(check.err, HasSubstr("/modules/0/path: plugin")) << check.err;
      }
    } else {
      EXPECT_THAT(verdicts[i], ::testing::StartsWith("bad")) << docs[i].name;
      EXPECT_EQ(check.exit_code, 2) << docs[i].name;
      EXPECT_THAT(check.err, HasSubstr(files[i] + ": " + docs[i].violation)) << docs[i].name;
    }
  }
}

TEST(PolicySchema, CheckReportsEveryViolationWithItsPath) {
  TempDir dir;
  const std::string file = dir.Write("p.json", R"({"version": 1, "modules": [
      {"module": "trace", "format": "xml", "outptu": "/tmp/x"},
      {"module": "fs_guard", "rules": [{"deny": "/x", "access": ["rede"]}], "mode": 1}]})");
  ProcessResult r = Exec({kHijackd, "check", file});
  EXPECT_EQ(r.exit_code, 2);
  for (const char* path : {"/modules/0/format: ", "/modules/0/outptu: unknown key",
                           "/modules/1/rules/0/access/0: ", "/modules/1/mode: "}) {
    EXPECT_THAT(r.err, HasSubstr(file + ": " + path)) << r.err;
  }
}

// ---- completions -------------------------------------------------------------------------

// COMPREPLY of the program's generated bash completion for the words typed so far (the last
// one is being completed), one per line.
std::vector<std::string> BashComplete(const std::string& program,
                                      const std::vector<std::string>& words) {
  std::string array;
  for (const std::string& w : words) {
    array += " '" + w + "'";
  }
  const std::string script =
      "set -u\n"
      "COMPREPLY=()\n"
      "source <(\"$0\" completion bash) || exit 3\n"
      "COMP_WORDS=(" + std::filesystem::path(program).filename().string() + array + ")\n"
      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
      "COMP_LINE=\"${COMP_WORDS[*]}\"\n"
      "COMP_POINT=${#COMP_LINE}\n"
      "fn=$(complete -p " + std::filesystem::path(program).filename().string() +
      " | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')\n"
      "\"$fn\"\n"
      "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
  ProcessResult r = Exec({"/bin/bash", "--norc", "--noprofile", "-c", script, program});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  std::vector<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

TEST(BashCompletion, CompletesCommandsOptionsAndChoices) {
  EXPECT_THAT(BashComplete(kHijackd, {"r"}), ElementsAre("run"));
  EXPECT_THAT(BashComplete(kHijackd, {"run", "--back"}), ElementsAre("--backend"));
  EXPECT_THAT(BashComplete(kHijackd, {"run", "--backend", ""}),
              ::testing::IsSupersetOf({"auto", "notify", "ptrace"}));
  EXPECT_THAT(BashComplete(kHijackd, {"run", "--trace-format", "j"}), ElementsAre("json"));
  EXPECT_THAT(BashComplete(kHijackd, {"--log-level", "w"}), ElementsAre("warn"));
  EXPECT_THAT(BashComplete(kHijackd, {"--log-level", "debug", "ch"}), ElementsAre("check"));
  EXPECT_THAT(BashComplete(kHijackd, {"man", ""}), UnorderedElementsAreArray({"hijackd", "policy"}));
  // The guest's own arguments are the guest's: no hijackd option is offered for them.
  EXPECT_THAT(BashComplete(kHijackd, {"run", "ls", "--b"}), IsEmpty());
  EXPECT_THAT(BashComplete(kHijackd, {"run", "--", "--b"}), IsEmpty());
  EXPECT_THAT(BashComplete(kHijackd, {"run", "bas"}), ::testing::Contains("bash"));
}

TEST(BashCompletion, HijackctlListsItsSubcommands) {
  const auto commands = HelpCommands(kHijackctl, {});
  ASSERT_GE(commands.size(), 10u);
  EXPECT_THAT(BashComplete(kHijackctl, {""}), UnorderedElementsAreArray(commands));
  EXPECT_THAT(BashComplete(kHijackctl, {"policy", ""}),
              UnorderedElementsAreArray(HelpCommands(kHijackctl, {"policy"})));
  EXPECT_THAT(BashComplete(kHijackctl, {"--json", "events", "--decision", "f"}),
              ElementsAre("fail"));
  EXPECT_THAT(BashComplete(kHijackctl, {"launch", "--backend", "ptrace"}),
              UnorderedElementsAreArray({"ptrace", "ptrace-all"}));
}

TEST(ZshCompletion, ParsesInZshAndNamesEverySubcommand) {
  for (const char* program : {kHijackd, kHijackctl}) {
    ProcessResult script = Exec({program, "completion", "zsh"});
    ASSERT_EQ(script.exit_code, 0) << script.err;
    const std::string name = std::filesystem::path(program).filename();
    EXPECT_THAT(script.out, ::testing::StartsWith("#compdef " + name + "\n"));
    TempDir dir;
    const std::string file = dir.Write("_" + name, script.out);
    ProcessResult zsh = Exec({"/usr/bin/zsh", "-n", file});
    EXPECT_EQ(zsh.exit_code, 0) << zsh.err;
    EXPECT_THAT(zsh.err, IsEmpty());
    for (const std::string& command : HelpCommands(program, {})) {
      EXPECT_THAT(script.out, HasSubstr("'" + command + ":")) << name;
    }
  }
}

}  // namespace
}  // namespace hijack::testing
