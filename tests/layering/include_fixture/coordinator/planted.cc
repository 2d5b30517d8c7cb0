// A planted violation for layering_includes_planted: the coordinator reaching into the worker.
// Never compiled; cmake/LlmbenchCheckIncludes.cmake must reject it.
#include "worker/shard_runner.h"
