// Fuzz target: the control API's address parser (common/listen_address.h), which reads
// --listen, --connect and HIJACK_CONNECT. Whatever parses must print, and print back to the
// same address.
//
//   build/fuzz/tests/fuzz/listen_address_fuzzer -max_total_time=600 \
//       build/fuzz/corpus/listen_address tests/fuzz/corpus/listen_address
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/listen_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto address = hijack::common::ParseListenAddress(text);
  if (!address) {
    if (address.error().message.empty()) {
      std::abort();
    }
    return 0;
  }
  (void)address->GrpcUri();
  (void)address->IsLoopback();
  auto again = hijack::common::ParseListenAddress(address->ToString());
  if (!again || again->kind != address->kind || again->path != address->path ||
      again->host != address->host || again->port != address->port) {
    std::abort();
  }
  return 0;
}
