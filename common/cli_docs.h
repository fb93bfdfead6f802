// CliDocs: manual pages (roff, man(7)) and bash and zsh completion scripts generated from a
// program's CLI11 App tree, so that the documentation of every command, option and choice is
// the parser's own and cannot drift from it.
//
//   CLI::App app{"hijackd: ...", "hijackd"};
//   ... every subcommand and option ...
//   common::AddDocCommands(app, {.section = 8, .manual = "System Administration"});
//   app.parse(argc, argv);   // `hijackd man`, `hijackd completion bash` print and exit 0
//
// The generators read names, descriptions, footers, positionals and the choices CLI11 knows
// (IsMember and CheckedTransformer validators, shown as "TEXT:{a,b}"); choices a check function
// cannot state (a backend name) are given in CliDocs::choices. Hidden subcommands and options
// (an empty group) are left out. Pure functions of the App; call them from the parsing thread.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hijack::common {

struct CliDocs {
  int section = 1;          // man(1) section of the program's page
  std::string manual;       // the page's header: "User Commands", "System Administration"
  std::vector<std::string> see_also;  // "hijackctl(1)", ...
  // Values an option takes, by its long name ("--backend"), where CLI11 cannot say them.
  std::map<std::string, std::vector<std::string>> choices;
  // Sections appended to the program's page, in order: {"FILES", "roff text"}.
  std::vector<std::pair<std::string, std::string>> sections;
  // Further pages `PROGRAM man NAME` prints (hijackd: "policy" for hijack-policy(5)).
  std::map<std::string, std::function<std::string()>> pages;
};

// The program's manual page in man(7) roff.
std::string ManualPage(const CLI::App& app, const CliDocs& docs);
// A bash script that, sourced, completes the program (complete -F); for
// /usr/share/bash-completion/completions/PROGRAM.
std::string BashCompletion(const CLI::App& app, const CliDocs& docs);
// A zsh completion function (#compdef PROGRAM); for site-functions/_PROGRAM.
std::string ZshCompletion(const CLI::App& app, const CliDocs& docs);

// Adds two subcommands to `app`: `completion bash|zsh` and `man [PAGE]`, which print what the
// functions above make of the whole tree (parsed by then) and end parsing with CLI::Success.
void AddDocCommands(CLI::App& app, CliDocs docs);

// roff text with its escapes: backslashes, dashes, and a line-leading '.' or '\''.
std::string RoffEscape(std::string_view text);

}  // namespace hijack::common
