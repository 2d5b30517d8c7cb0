// Owning handles for libcurl's C handles: an easy handle (CURL), a multi handle (CURLM) and a
// header list (curl_slist), each a std::unique_ptr whose deleter calls the matching libcurl
// cleanup. One set for every libcurl caller: the coordinator's engine checks, token counting
// and telemetry scrapes, the worker's CurlMultiTransport, and the test harness.
//
// Header only, and it does no I/O: engines/ stays "no sockets". It lives here because
// engines/ is the lowest layer that both libcurl users (coordinator and worker) link;
// llmbench_engines links libcurl as an INTERFACE dependency for its users, so common/ (and
// the simulator with it) need not link libcurl at all.
//
// Thread-safety: as libcurl's handles (one thread at a time per handle).
#ifndef LLMBENCH_ENGINES_CURL_HANDLES_H_
#define LLMBENCH_ENGINES_CURL_HANDLES_H_

#include <curl/curl.h>

#include <memory>

namespace llmbench::engines {

struct CurlEasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

}  // namespace llmbench::engines

#endif  // LLMBENCH_ENGINES_CURL_HANDLES_H_
