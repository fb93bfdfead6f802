#include "cli/text_table.h"

#include <algorithm>

namespace hijack::cli {

std::string TextTable::Render() const {
  std::vector<size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header_);
  for (const auto& row : rows_) {
    measure(row);
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) {
        out.append(width[i] - row[i].size() + 2, ' ');
      }
    }
    out += '\n';
  };
  emit(header_);
  for (const auto& row : rows_) {
    emit(row);
  }
  return out;
}

}  // namespace hijack::cli
