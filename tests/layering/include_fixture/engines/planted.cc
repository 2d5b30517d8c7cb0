// A planted violation for layering_includes_planted: gRPC outside the RPC edges.
// Never compiled; cmake/LlmbenchCheckIncludes.cmake must reject it.
#include "engines/engine_protocol.h"
#include <grpcpp/grpcpp.h>
