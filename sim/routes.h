// The simulator's request routing. RouteRequest answers the simulator's own GET /sim/metrics,
// then the routes of the engine's personality (Ollama, vLLM or TGI): static endpoints (health,
// version, model lists, info, metrics, tokenize) are answered here with the engine's own bytes
// (see shared/engines/PROTOCOLS.md); generation routes go to Session::StartGeneration with their
// Api; anything else gets the engine's own 404.
// Thread-safety: runs on the session's thread (it writes the response to the session).
#ifndef LLMBENCH_SIM_ROUTES_H_
#define LLMBENCH_SIM_ROUTES_H_

#include "sim/http_session.h"
#include "sim/sim_engine.h"

namespace llmbench::sim {

void RouteRequest(Session& session, Engine& engine, const HttpRequest& req);

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_ROUTES_H_
