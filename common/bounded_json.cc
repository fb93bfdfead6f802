#include "common/bounded_json.h"

#include <fmt/format.h>

#include <set>
#include <string>
#include <vector>

namespace hijack::common {
namespace {

// nlohmann's out_of_range id for "number overflow parsing '1e400'".
constexpr int kNumberOverflow = 406;

// Checks depth and records where the parse stopped. Every callback returns false to stop the
// parse at the first problem; nlohmann then returns false from sax_parse.
class CheckingSax {
 public:
  using json = nlohmann::json;

  explicit CheckingSax(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(json::number_integer_t) { return Value(); }
  bool number_unsigned(json::number_unsigned_t) { return Value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return Value(); }
  bool string(json::string_t&) { return Value(); }
  bool binary(json::binary_t&) { return Value(); }
  bool start_object(std::size_t) { return Open(false); }
  bool key(json::string_t& k) {
    Frame& f = frames_.back();
    f.key = k;
    // nlohmann keeps the last of two equal keys; a reader that keeps the first would see
    // another policy. Neither is what the author meant.
    if (!f.keys.insert(k).second) {
      error_ = fmt::format("{}: duplicate key", Path());
      return false;
    }
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(true); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string& last_token,
                   const nlohmann::detail::exception& ex) {
    if (ex.id == kNumberOverflow) {
      error_ = fmt::format("{}: number {} is out of range (it does not fit a double)", Path(),
                           last_token);
    } else {
      error_ = ex.what();
    }
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;
    std::string key;
    std::set<std::string, std::less<>> keys;  // objects: the keys seen so far
  };

  bool Value() {
    if (!frames_.empty() && frames_.back().array) {
      ++frames_.back().index;
    }
    return true;
  }
  bool Open(bool array) {
    if (frames_.size() >= limits_.max_depth) {
      error_ = fmt::format("{}: nested deeper than {} levels (the limit for objects and arrays)",
                           Path(), limits_.max_depth);
      return false;
    }
    frames_.push_back(Frame{.array = array, .index = 0, .key = {}, .keys = {}});
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return Value();
  }
  // The JSON pointer (RFC 6901) of the value being parsed: "~" and "/" in keys escaped.
  std::string Path() const {
    std::string out;
    for (const Frame& f : frames_) {
      out += '/';
      if (f.array) {
        out += std::to_string(f.index);
        continue;
      }
      for (char c : f.key) {
        out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
      }
    }
    return out.empty() ? "/" : out;
  }

  const JsonLimits& limits_;
  std::vector<Frame> frames_;
  std::string error_;
};

}  // namespace

Result<nlohmann::json> ParseBoundedJson(std::string_view text, const JsonLimits& limits) {
  // nlohmann's lexer takes a NUL byte for the end of the input and ignores what follows.
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return MakeError(fmt::format("byte {}: a NUL byte (JSON text has none; the rest would be "
                                 "ignored)",
                                 nul));
  }
  CheckingSax sax(limits);
  const bool ok = nlohmann::json::sax_parse(text, &sax, nlohmann::json::input_format_t::json,
                                            /*strict=*/true, /*ignore_comments=*/true);
  if (!ok) {
    return MakeError(sax.error().empty() ? "invalid JSON" : sax.error());
  }
  // The checking pass accepted exactly this text with the same options, so this cannot fail.
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false,
                               /*ignore_comments=*/true);
}

}  // namespace hijack::common
