// WriteLighttpdSite: a lighttpd(8) site in a test's directory, for the tests that run lighttpd
// under hijackd as a real server: www/index.html holding `index_html`, and lighttpd.conf
// serving www/ on 127.0.0.1:port with its errors in dir/error.log, then the config lines
// `extra`. Returns the config's path.
//
//   const int port = PickFreePort();
//   const std::string conf = WriteLighttpdSite(dir, port, "hello\n", "server.pid-file = ...\n");
//   BackgroundProcess server({"/usr/sbin/lighttpd", "-D", "-f", conf});
//
// Threads: writes files; one test's.
#pragma once

#include <sys/stat.h>

#include <string>

#include "tests/support/subprocess.h"

namespace hijack::testing {

inline std::string WriteLighttpdSite(const TempDir& dir, int port, const std::string& index_html,
                                     const std::string& extra) {
  const std::string docroot = dir.path() + "/www";
  mkdir(docroot.c_str(), 0755);
  dir.Write("www/index.html", index_html);
  return dir.Write("lighttpd.conf", "server.document-root = \"" + docroot +
                                        "\"\nserver.port = " + std::to_string(port) +
                                        "\nserver.bind = \"127.0.0.1\"\n" +
                                        "server.errorlog = \"" + dir.path() + "/error.log\"\n" +
                                        "index-file.names = (\"index.html\")\n" + extra);
}

}  // namespace hijack::testing
