// ParseBoundedJson: parses JSON text from an untrusted source (a policy file, a control
// request) into a document that the rest of the daemon can walk, copy and print safely.
//
//   Result<nlohmann::json> doc = ParseBoundedJson(text, {.max_depth = kMaxJsonDepth});
//   if (!doc) return std::unexpected(doc.error());  // "/modules/0/rate: number 1e400 ..."
//
// nlohmann's parser itself is iterative, but copying, comparing and dumping a document
// recurse once per level: a document nested 100,000 levels deep parses fine and then
// overflows the stack of whatever touches it next. And it reports a number that does not fit
// a double (1e400) as out_of_range, an exception apart from its parse errors. Here the text
// goes first through a SAX pass that counts depth, knows the JSON path of every value and
// turns every failure into an Error, so the DOM pass that follows cannot fail.
//
// Two equal keys in one object (nlohmann would keep the last silently) and NUL bytes (its
// lexer would end the text there) are refused too.
//
// Errors (code 0) name the JSON path ("/modules/3/config/a: nested deeper than 64 levels")
// or, for syntax errors, the line and column as nlohmann reports them. Comments are allowed,
// as in policy files. Thread-safe; no exceptions escape except std::bad_alloc.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hijack/result.h"

namespace hijack::common {

// Deeper than any policy needs (a module's rules are 4 levels down; a plugin's own config
// gets the rest), shallow enough that every recursive walk stays far inside a thread's stack.
inline constexpr size_t kMaxJsonDepth = 64;

struct JsonLimits {
  size_t max_depth = kMaxJsonDepth;  // objects and arrays inside each other
};

[[nodiscard]] Result<nlohmann::json> ParseBoundedJson(std::string_view text,
                                                      const JsonLimits& limits = {});

}  // namespace hijack::common
