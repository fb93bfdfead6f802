#include "daemon/policy/policy_manual.h"

#include <fmt/format.h>

#include "common/cli_docs.h"
#include "common/version.h"
#include "daemon/policy/policy_examples.h"
#include "daemon/policy/policy_set.h"

namespace hijack::policy {
namespace {

using common::RoffEscape;

std::string Bold(std::string_view s) { return "\\fB" + RoffEscape(s) + "\\fR"; }

std::string List(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : ", ") + Bold(item);
  }
  return out;
}

std::string Number(double v) { return fmt::format("{}", v); }

// One setting as a tagged paragraph, its object's keys indented under it.
void SettingItem(const Setting& s, std::string& out) {
  out += ".TP\n" + Bold(s.name) + " (" + RoffEscape(DescribeTypes(s)) +
         (s.required ? ", required" : "") + ")\n";
  out += RoffEscape(s.description) + ".\n";
  if (!s.choices.empty()) {
    out += ".br\nOne of: " + List(s.choices) + ".\n";
  }
  if (s.minimum && s.maximum) {
    out += ".br\nRange: " + RoffEscape(Number(*s.minimum)) + " to " +
           RoffEscape(Number(*s.maximum)) + ".\n";
  } else if (s.minimum) {
    out += ".br\nAt least " + RoffEscape(Number(*s.minimum)) + ".\n";
  }
  if (!s.default_value.is_null()) {
    out += ".br\nDefault: " + Bold(s.default_value.dump()) + ".\n";
  }
  if (s.open) {
    out += ".br\nPassed on unread.\n";
  }
  if (!s.fields.empty()) {
    out += ".br\nIts objects have the keys:\n.RS\n";
    for (const Setting& f : s.fields) {
      SettingItem(f, out);
    }
    out += ".RE\n";
  }
}

std::string Literal(std::string_view text) {
  std::string out = ".PP\n.RS 4\n.nf\n";
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    out += RoffEscape(text.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out + ".fi\n.RE\n";
}

}  // namespace

std::string PolicyManualPage(const ModuleRegistry& registry) {
  std::string out = fmt::format(".TH HIJACK\\-POLICY 5 \"\" \"hijack {}\" \"File Formats\"\n",
                                RoffEscape(common::Version()));
  out += ".nh\n.ad l\n";  // setting names are neither hyphenated nor stretched
  out += ".SH NAME\nhijack\\-policy \\- policy files of hijackd and hijackctl\n";
  out += ".SH SYNOPSIS\n";
  out += Literal(R"({"version": 1,
 "description": "what the policy is for",
 "modules": [{"module": "NAME", "SETTING": VALUE, ...}, ...]})");
  out += ".SH DESCRIPTION\n";
  out += RoffEscape(
      "A policy is a JSON document that lists policy module instances in order. hijackd "
      "intercepts the union of the system calls the modules need (and those of --intercept). "
      "For each intercepted call the enforcing modules that need it are asked in order; the "
      "first that answers decides, and a call nobody objects to runs. Observing modules (stats, "
      "trace) see every call they asked for.") +
         "\n.PP\n" +
         RoffEscape(
             "Every setting is validated before anything starts. An error names the JSON "
             "Pointer of the offending value, as in") +
         "\n.PP\n.RS 4\n" +
         RoffEscape("/modules/2/rules/0/access/1: unknown access \"rede\"") + "\n.RE\n.PP\n" +
         RoffEscape(
             "and hijackd exits with status 2. \"hijackd check FILE\" reports every violation of "
             "the document's shape (types, choices, ranges, unknown and missing keys) at once, "
             "then what the modules themselves refuse. \"hijackd schema\" prints the JSON "
             "Schema (draft 2020-12) of policies, which editors and other tools can use; it is "
             "generated from the same tables as this page.") +
         "\n";
  out += ".SH \"FILE STRUCTURE\"\n";
  out += ".TP\n" + Bold("version") + " (an integer, required)\nThe policy format: " +
         Bold("1") + ".\n";
  out += ".TP\n" + Bold("description") + " (a string)\nWhat the policy is for.\n";
  out += ".TP\n" + Bold("modules") + " (a list of objects, required)\n" +
         RoffEscape(fmt::format(
             "The module instances, in the order they decide; at most {}. Each object names "
             "its module with \"module\" and gives that module's settings; a key the module "
             "does not know is an error. A module may appear more than once.",
             kMaxModules)) +
         "\n";
  out += ".SH MODULES\n";
  for (const ModuleInfo* info : registry.List()) {
    out += ".SS " + RoffEscape(info->name) + "\n" + RoffEscape(info->summary) + ".\n";
    if (info->settings.empty()) {
      continue;
    }
    out += ".PP\nSettings:\n";
    for (const Setting& s : info->settings) {
      SettingItem(s, out);
    }
  }
  out += ".SH EXAMPLES\n";
  out += RoffEscape("The example policies that come with hijack:") + "\n";
  for (const auto& [name, text] : kPolicyExamples) {
    out += ".SS " + RoffEscape(name) + "\n";
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object() && doc.contains("description") && doc["description"].is_string()) {
      out += RoffEscape(doc["description"].get<std::string>()) + "\n";
      doc.erase("description");
    }
    out += Literal(doc.is_discarded() ? std::string(text) : doc.dump(2));
  }
  out += ".SH \"SEE ALSO\"\n.BR hijackd (8),\n.BR hijackctl (1)\n";
  return out;
}

}  // namespace hijack::policy
