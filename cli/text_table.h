// TextTable: the aligned columns hijackctl prints for people (`--json` is for programs).
//
//   TextTable t({"ID", "STATE", "COMMAND"});
//   t.AddRow({"1", "running", "lighttpd -D"});
//   std::fputs(t.Render().c_str(), stdout);
//
// Columns are as wide as their widest cell; the last column is not padded. Not thread-safe.
#pragma once

#include <string>
#include <vector>

namespace hijack::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace hijack::cli
