#include "common/cli_docs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/version.h"

namespace hijack::common {
namespace {

// ---- The App tree as the generators see it -------------------------------------------------

bool Visible(const CLI::App* app) { return !app->get_group().empty(); }

std::vector<const CLI::App*> Subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return Visible(sub); });
}

// The options of `app` a user types, in the order they were added: named options of a visible
// group; for a manual, without the --help every subcommand has.
std::vector<const CLI::Option*> NamedOptions(const CLI::App& app, bool with_help = false) {
  return app.get_options([&](const CLI::Option* o) {
    if (o->get_group().empty() || o->get_positional() ||
        (o->get_lnames().empty() && o->get_snames().empty())) {
      return false;
    }
    return with_help || app.get_parent() == nullptr || o != app.get_help_ptr();
  });
}

std::vector<const CLI::Option*> Positionals(const CLI::App& app) {
  return app.get_options([](const CLI::Option* o) {
    return o->get_positional() && o->get_lnames().empty() && o->get_snames().empty();
  });
}

// Every spelling: "-s", "--signal", "--no-agent".
std::vector<std::string> Spellings(const CLI::Option* o) {
  std::vector<std::string> out;
  for (const std::string& s : o->get_snames()) {
    out.push_back("-" + s);
  }
  for (const std::string& l : o->get_lnames()) {
    out.push_back("--" + l);
  }
  return out;
}

bool TakesValue(const CLI::Option* o) { return o->get_items_expected_max() > 0; }

// What the value is called: "TEXT", "INT", ... (CLI11's type name before any validator).
std::string Metavar(const CLI::Option* o) {
  std::string type = o->get_type_name();
  type = type.substr(0, type.find(':'));
  return type.empty() ? "VALUE" : type;
}

// The values an option takes: CliDocs::choices, else CLI11's "{a,b}" (a map's "a->x" keys).
std::vector<std::string> Choices(const CLI::Option* o, const CliDocs& docs) {
  for (const std::string& l : o->get_lnames()) {
    if (auto it = docs.choices.find("--" + l); it != docs.choices.end()) {
      return it->second;
    }
  }
  const std::string type = o->get_type_name();
  const size_t open = type.find('{');
  const size_t close = type.find('}', open);
  if (open == std::string::npos || close == std::string::npos) {
    return {};
  }
  std::vector<std::string> out;
  std::string item;
  auto flush = [&] {
    item = item.substr(0, item.find("->"));
    if (!item.empty()) {
      out.push_back(item);
    }
    item.clear();
  };
  for (size_t i = open + 1; i < close; ++i) {
    if (type[i] == ',') {
      flush();
    } else {
      item += type[i];
    }
  }
  flush();
  return out;
}

// The command words from the top ("policy get"), without the program's name.
std::string PathOf(const CLI::App& app) {
  std::string out;
  for (const CLI::App* a = &app; a->get_parent() != nullptr; a = a->get_parent()) {
    out = a->get_name() + (out.empty() ? "" : " ") + out;
  }
  return out;
}

const CLI::App& Root(const CLI::App& app) {
  const CLI::App* a = &app;
  while (a->get_parent() != nullptr) {
    a = a->get_parent();
  }
  return *a;
}

// ---- roff -----------------------------------------------------------------------------------

std::string Bold(std::string_view s) { return "\\fB" + RoffEscape(s) + "\\fR"; }
std::string Italic(std::string_view s) { return "\\fI" + RoffEscape(s) + "\\fR"; }

// A quoted macro argument.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : RoffEscape(s)) {
    out += c == '"' ? std::string("\\(dq") : std::string(1, c);
  }
  return out + "\"";
}

// Free text: paragraphs at blank lines, and lines that look laid out (indented, or an example
// block after a line ending in ':') kept as they are.
std::string Paragraphs(std::string_view text) {
  std::string out;
  bool fill = true;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) {
      if (!fill) {
        out += ".fi\n";
        fill = true;
      }
      out += ".PP\n";
      continue;
    }
    const bool laid_out = line.starts_with(" ");
    if (laid_out && fill) {
      out += ".nf\n";
      fill = false;
    } else if (!laid_out && !fill) {
      out += ".fi\n";
      fill = true;
    }
    out += RoffEscape(line) + "\n";
  }
  if (!fill) {
    out += ".fi\n";
  }
  return out;
}

std::string OptionItem(const CLI::Option* o, const CliDocs& docs) {
  std::string head;
  for (const std::string& name : Spellings(o)) {
    head += (head.empty() ? "" : ", ") + Bold(name);
  }
  if (TakesValue(o)) {
    head += " " + Italic(Metavar(o));
  }
  std::string body = RoffEscape(o->get_description());
  if (auto choices = Choices(o, docs); !choices.empty()) {
    std::string list;
    for (const std::string& c : choices) {
      list += (list.empty() ? "" : ", ") + Bold(c);
    }
    body += "\n.br\nOne of: " + list + ".";
  }
  if (!o->get_default_str().empty()) {
    body += "\n.br\nDefault: " + Bold(o->get_default_str()) + ".";
  }
  if (!o->get_envname().empty()) {
    body += "\n.br\nEnvironment: " + Bold(o->get_envname()) + ".";
  }
  return ".TP\n" + head + "\n" + body + "\n";
}

std::string Synopsis(const CLI::App& app) {
  const std::string path = PathOf(app);
  std::string out = ".B " + RoffEscape(Root(app).get_name() + (path.empty() ? "" : " " + path)) +
                    "\n";
  std::string rest;
  if (!NamedOptions(app).empty()) {
    rest += "[" + Italic("OPTIONS") + "]";
  }
  for (const CLI::Option* p : Positionals(app)) {
    std::string name = Italic(p->get_name(true));
    if (p->get_items_expected_max() > 1) {
      name += "\\ ...";
    }
    rest += (rest.empty() ? "" : " ") + (p->get_required() ? name : "[" + name + "]");
  }
  if (!Subcommands(app).empty()) {
    rest += (rest.empty() ? "" : " ") + Italic("COMMAND") + " [" + Italic("ARGS") + "]";
  }
  if (!rest.empty()) {
    out += rest + "\n";
  }
  return out;
}

void CommandSection(const CLI::App& app, const CliDocs& docs, std::string& out) {
  const std::string path = PathOf(app);
  out += ".SS " + Quoted(Root(app).get_name() + " " + path) + "\n";
  out += Synopsis(app);
  out += ".PP\n" + RoffEscape(app.get_description()) + "\n";
  for (const CLI::Option* p : Positionals(app)) {
    out += ".TP\n" + Italic(p->get_name(true)) + "\n" + RoffEscape(p->get_description()) + "\n";
  }
  for (const CLI::Option* o : NamedOptions(app)) {
    out += OptionItem(o, docs);
  }
  // CLI11 copies the parent's footer into each subcommand; only a footer of its own is shown.
  const std::string footer = app.get_footer();
  if (!footer.empty() && footer != app.get_parent()->get_footer()) {
    out += ".PP\n" + Paragraphs(footer);
  }
  for (const CLI::App* sub : Subcommands(app)) {
    CommandSection(*sub, docs, out);
  }
}

// ---- bash -----------------------------------------------------------------------------------

std::string ShellWord(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

void BashTables(const CLI::App& app, const CliDocs& docs, std::string& descend,
                std::string& values, std::string& choices, std::string& words,
                std::string& rest) {
  const std::string path = PathOf(app);
  std::vector<std::string> commands;
  for (const CLI::App* sub : Subcommands(app)) {
    commands.push_back(sub->get_name());
    descend += "      " + ShellWord(path + "|" + sub->get_name()) + ") path=" +
               ShellWord((path.empty() ? "" : path + " ") + sub->get_name()) + " ;;\n";
  }
  for (const CLI::Option* p : Positionals(app)) {
    for (const std::string& c : Choices(p, docs)) {
      commands.push_back(c);  // `completion bash`: the operand's choices complete as words
    }
  }
  std::vector<std::string> options;
  for (const CLI::Option* o : NamedOptions(app, /*with_help=*/true)) {
    for (const std::string& name : Spellings(o)) {
      options.push_back(name);
      if (!TakesValue(o)) {
        continue;
      }
      values += "      " + ShellWord(path + "|" + name) + ") skip=1 ;;\n";
      if (auto c = Choices(o, docs); !c.empty()) {
        choices += "    " + ShellWord(path + "|" + name) + ") COMPREPLY=($(compgen -W " +
                   ShellWord(Join(c)) + " -- \"$cur\")); return ;;\n";
      } else {
        choices += "    " + ShellWord(path + "|" + name) + ") return ;;\n";
      }
    }
  }
  words += "    " + ShellWord(path) + ") commands=" + ShellWord(Join(commands)) +
           "; options=" + ShellWord(Join(options)) + " ;;\n";
  for (const CLI::Option* p : Positionals(app)) {
    if (p->get_items_expected_max() > 1) {
      rest += path + "|";
    }
  }
  for (const CLI::App* sub : Subcommands(app)) {
    BashTables(*sub, docs, descend, values, choices, words, rest);
  }
}

// ---- zsh ------------------------------------------------------------------------------------

std::string FunctionName(const CLI::App& app) {
  std::string out = "_" + Root(app).get_name();
  const std::string path = PathOf(app);
  if (!path.empty()) {
    out += '_';
  }
  for (char c : path) {
    out += (c == ' ' || c == '-') ? '_' : c;
  }
  return out;
}

// A description inside _arguments' [...] or _describe's "name:desc": one clause, no brackets.
std::string ZshText(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, s.find_first_of(";(\n"))) {
    if (c == '[' || c == ']') {
      continue;
    }
    if (c == '\'') {
      out += "'\\''";
    } else if (c == ':') {
      out += "\\:";
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

void ZshFunction(const CLI::App& app, const CliDocs& docs, std::string& out) {
  out += FunctionName(app) + "() {\n";
  out += "  local context state state_descr line\n  typeset -A opt_args\n";
  out += "  _arguments -C -s";
  for (const CLI::Option* o : NamedOptions(app, /*with_help=*/true)) {
    const std::vector<std::string> names = Spellings(o);
    std::string spec;
    if (names.size() > 1) {
      spec = "'(" + Join(names) + ")'{" + [&] {
        std::string s;
        for (const auto& n : names) {
          s += (s.empty() ? "" : ",") + n;
        }
        return s;
      }() + "}'";
    } else {
      spec = "'" + names[0];
    }
    spec += "[" + ZshText(o->get_description()) + "]";
    if (TakesValue(o)) {
      auto c = Choices(o, docs);
      spec += ":" + ZshText(Metavar(o)) + ":" + (c.empty() ? "_files" : "(" + Join(c) + ")");
    }
    out += " \\\n    " + spec + "'";
  }
  const auto subs = Subcommands(app);
  int position = 1;
  for (const CLI::Option* p : Positionals(app)) {
    if (p->get_items_expected_max() > 1) {
      out += " \\\n    '*::" + ZshText(p->get_name(true)) + ":_normal'";
    } else {
      auto c = Choices(p, docs);
      out += " \\\n    '" + std::to_string(position++) + ":" + ZshText(p->get_name(true)) + ":" +
             (c.empty() ? "_files" : "(" + Join(c) + ")") + "'";
    }
  }
  if (!subs.empty()) {
    out += " \\\n    '1: :->command' \\\n    '*:: :->args'";
  }
  out += "\n";
  if (!subs.empty()) {
    out += "  case $state in\n    command)\n      local -a commands=(\n";
    for (const CLI::App* sub : subs) {
      out += "        '" + ZshText(sub->get_name()) + ":" + ZshText(sub->get_description()) +
             "'\n";
    }
    out += "      )\n      _describe command commands ;;\n    args)\n      case $line[1] in\n";
    for (const CLI::App* sub : subs) {
      out += "        " + sub->get_name() + ") " + FunctionName(*sub) + " ;;\n";
    }
    out += "      esac ;;\n  esac\n";
  }
  out += "}\n\n";
  for (const CLI::App* sub : subs) {
    ZshFunction(*sub, docs, out);
  }
}

}  // namespace

std::string RoffEscape(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) {
      out += "\\&";
    }
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ManualPage(const CLI::App& app, const CliDocs& docs) {
  const std::string name = app.get_name();
  std::string upper = name;
  std::ranges::transform(upper, upper.begin(), [](unsigned char c) { return std::toupper(c); });
  // The description reads "hijackd: what it does"; NAME wants only what it does.
  std::string what = app.get_description();
  if (what.starts_with(name + ": ")) {
    what = what.substr(name.size() + 2);
  }
  std::string out = fmt::format(".TH {} {} \"\" {} {}\n", upper, docs.section,
                                Quoted("hijack " + std::string(Version())), Quoted(docs.manual));
  out += ".nh\n.ad l\n";  // option names are neither hyphenated nor stretched
  out += ".SH NAME\n" + RoffEscape(name) + " \\- " + RoffEscape(what) + "\n";
  out += ".SH SYNOPSIS\n" + Synopsis(app);
  for (const CLI::App* sub : Subcommands(app)) {
    out += ".br\n" + Synopsis(*sub);
  }
  std::string sentence = what;
  if (!sentence.empty()) {
    sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
  }
  out += ".SH DESCRIPTION\n" + RoffEscape(sentence) + ".\n";
  if (!app.get_footer().empty()) {
    out += ".PP\n" + Paragraphs(app.get_footer());
  }
  out += ".SH OPTIONS\n";
  for (const CLI::Option* o : NamedOptions(app)) {
    out += OptionItem(o, docs);
  }
  out += ".SH COMMANDS\n";
  for (const CLI::App* sub : Subcommands(app)) {
    CommandSection(*sub, docs, out);
  }
  for (const auto& [title, text] : docs.sections) {
    out += ".SH " + Quoted(title) + "\n" + text + (text.ends_with("\n") ? "" : "\n");
  }
  if (!docs.see_also.empty()) {
    out += ".SH \"SEE ALSO\"\n";
    for (size_t i = 0; i < docs.see_also.size(); ++i) {
      const std::string& ref = docs.see_also[i];
      const size_t paren = ref.find('(');
      out += ".BR " + RoffEscape(ref.substr(0, paren)) + " " + ref.substr(paren) +
             (i + 1 < docs.see_also.size() ? "," : "") + "\n";
    }
  }
  return out;
}

std::string BashCompletion(const CLI::App& app, const CliDocs& docs) {
  std::string descend, values, choices, words, rest;
  BashTables(app, docs, descend, values, choices, words, rest);
  const std::string fn = "_" + app.get_name() + "_complete";
  std::string out = fmt::format(
      "# bash completion for {0}, generated by `{0} completion bash` from its command line.\n",
      app.get_name());
  out += fn + "() {\n";
  out += "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n";
  // Commands whose last operand takes the rest of the line (a guest's command line).
  out += "  local rest_paths=" + ShellWord("|" + rest) + "\n";
  out += "  local path='' skip=0 first=0 i w commands='' options=''\n";
  out += "  for ((i = 1; i < COMP_CWORD; i++)); do\n";
  out += "    w=${COMP_WORDS[i]}\n";
  out += "    if ((skip)); then skip=0; continue; fi\n";
  out += "    if [[ $w == -- ]]; then first=$((i + 1)); break; fi\n";
  out += "    case \"$path|$w\" in\n" + descend + values;
  out += "      *) if [[ $w != -* && $rest_paths == *\"|$path|\"* ]]; then first=$i; break; fi ;;\n";
  out += "    esac\n  done\n";
  out += "  if ((first)); then\n";
  out += "    # the guest's command line: a program first, then its own arguments (files)\n";
  out += "    if ((COMP_CWORD == first)); then COMPREPLY=($(compgen -c -- \"$cur\")); fi\n";
  out += "    return\n  fi\n";
  out += "  case \"$path|$prev\" in\n" + choices + "  esac\n";
  out += "  case \"$path\" in\n" + words + "  esac\n";
  out += "  if [[ $cur == -* ]]; then\n";
  out += "    COMPREPLY=($(compgen -W \"$options\" -- \"$cur\"))\n";
  out += "  elif [[ -n $commands ]]; then\n";
  out += "    COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n";
  out += "  elif [[ $rest_paths == *\"|$path|\"* ]]; then\n";
  out += "    COMPREPLY=($(compgen -c -- \"$cur\"))\n";
  out += "  fi\n}\n";
  out += "complete -o default -F " + fn + " " + app.get_name() + "\n";
  return out;
}

std::string ZshCompletion(const CLI::App& app, const CliDocs& docs) {
  std::string out = "#compdef " + app.get_name() + "\n";
  out += fmt::format("# zsh completion for {0}, generated by `{0} completion zsh` from its "
                     "command line.\n\n",
                     app.get_name());
  ZshFunction(app, docs, out);
  out += FunctionName(app) + " \"$@\"\n";
  return out;
}

void AddDocCommands(CLI::App& app, CliDocs docs) {
  auto shared = std::make_shared<CliDocs>(std::move(docs));
  auto print = [](const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    throw CLI::Success();
  };
  auto shell = std::make_shared<std::string>();
  CLI::App* completion = app.add_subcommand(
      "completion", "print a completion script for bash or zsh, generated from this command line");
  completion->add_option("shell", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->footer(fmt::format(
      "Examples:\n"
      "  source <({0} completion bash)\n"
      "  {0} completion zsh > ~/.zfunc/_{0}        # a directory on $fpath",
      app.get_name()));
  completion->callback([&app, shared, shell, print] {
    print(*shell == "bash" ? BashCompletion(app, *shared) : ZshCompletion(app, *shared));
  });

  auto page = std::make_shared<std::string>(app.get_name());
  std::vector<std::string> pages{app.get_name()};
  for (const auto& [name, make] : shared->pages) {
    pages.push_back(name);
  }
  std::string page_help = "which page: " + app.get_name() + " (the default)";
  for (size_t i = 1; i < pages.size(); ++i) {
    page_help += ", " + pages[i];
  }
  CLI::App* man = app.add_subcommand("man", "print a manual page in roff (man -l - reads it)");
  man->add_option("page", *page, page_help)->check(CLI::IsMember(pages));
  man->footer(fmt::format("Example:\n  {} man | man -l -", app.get_name()));
  man->callback([&app, shared, page, print] {
    if (auto it = shared->pages.find(*page); it != shared->pages.end()) {
      print(it->second());
    }
    print(ManualPage(app, *shared));
  });
}

}  // namespace hijack::common
