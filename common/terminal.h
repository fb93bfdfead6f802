// What the terminal a program writes to wants: colour or none, and how wide a line may be.
//
//   if (common::ColourWanted(STDERR_FILENO)) { ... }            // NO_COLOR unset, a terminal
//   const size_t width = common::OutputWidth(STDOUT_FILENO);     // 0: no limit (not a terminal)
//   std::puts(common::FitLine(row, width, /*indent=*/33).c_str());
//
// NO_COLOR (https://no-color.org): when it is set to anything but the empty string, no ANSI
// colour, whatever the output. COLUMNS, when it is a positive number, is the width even for
// output that is not a terminal (as ls(1) and the shells' `select` read it); otherwise a
// terminal's width comes from TIOCGWINSZ (ioctl_tty(2)), and output that is no terminal has no
// width: pipes and files get whole lines, for the programs that read them.
//
// Thread-safe: reads the environment and the descriptor only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hijack::common {

// True when NO_COLOR is set and not empty.
bool NoColorRequested();

// True when output to `fd` may be coloured: NO_COLOR not requested and `fd` is a terminal.
bool ColourWanted(int fd);

// The width lines written to `fd` should fit, or 0 for no limit (see above).
size_t OutputWidth(int fd);

// `line` fitted to `width` columns (0: unchanged). With `indent` > 0 the line is wrapped at
// spaces, each continuation indented by `indent` spaces (a table whose last column starts there);
// a word wider than the column is broken. With `indent` 0 (or a width too small to wrap into) the
// line is cut and ends with "...". Bytes are counted
// as columns: the tables it fits are ASCII. Continuation lines are joined with '\n'.
std::string FitLine(std::string_view line, size_t width, size_t indent = 0);

// Every line of `text` fitted as FitLine(line, width, 0) does: for tables of numbers.
std::string FitLines(std::string_view text, size_t width);

}  // namespace hijack::common
