#include "hijack/decision.h"

namespace hijack {

std::string_view KindName(Decision::Kind kind) {
  switch (kind) {
    case Decision::Kind::kContinue:
      return "continue";
    case Decision::Kind::kFail:
      return "fail";
    case Decision::Kind::kReturn:
      return "return";
    case Decision::Kind::kInjectFd:
      return "inject_fd";
  }
  return "unknown";
}

}  // namespace hijack
