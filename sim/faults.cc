#include "sim/faults.h"

#include <optional>
#include <string>

#include "common/json_writer.h"
#include "common/str_cat.h"
#include "sim/protocol_writers.h"

namespace llmbench::sim {

ErrorInfo FaultError(EngineKind kind, std::string_view model, int status) {
  switch (kind) {
    case EngineKind::kOllama: {
      std::string type = status == 400 ? "invalid_request_error"
                                       : (status == 404 ? "not_found_error" : "api_error");
      std::string msg;
      switch (status) {
        case 400: msg = "invalid options"; break;
        case 404: msg = Cat("model '", model, "' not found"); break;
        case 429: msg = "too many requests"; break;
        case 503: msg = "server busy, please try again.  maximum pending requests exceeded"; break;
        case 500: msg = "an error was encountered while running the model"; break;
        default: msg = "unprocessable request"; break;
      }
      return {status, msg, type};
    }
    case EngineKind::kVllm:
      switch (status) {
        case 400: return {400, "Simulated bad request.", "BadRequestError"};
        case 404: return {404, Cat("The model `", model, "` does not exist."), "NotFoundError"};
        case 422: return {422, "Simulated unprocessable entity.", "UnprocessableEntityError"};
        case 429: return {429, "Too many requests.", "TooManyRequestsError"};
        case 503: return {503, "The engine is overloaded.", "ServiceUnavailableError"};
        default:
          return {status, "EngineCore encountered an issue. See stack trace (above) for the root cause.",
                  "InternalServerError"};
      }
    case EngineKind::kTgi:
      switch (status) {
        case 400:
        case 422: return {status, "Input validation error: simulated fault", "validation"};
        case 404: return {404, "Model not found", "not_found"};
        case 429: return {429, "Model is overloaded", "overloaded"};
        case 503: return {503, "unhealthy", "healthcheck"};
        default: return {status, "Request failed during generation: simulated fault", "generation"};
      }
  }
  return {status, "error", ""};
}

void AppendStreamFaultEvent(std::string& b, const Generation& gen) {
  switch (gen.req.api) {
    case Api::kOllamaGenerate:
    case Api::kOllamaChat:
      ollama::AppendError(b, "an error was encountered while running the model", true);
      break;
    case Api::kOllamaOaiChat:
      ollama::AppendOaiChatFinishChunk(b, gen.id, gen.created, gen.req.model, std::nullopt);
      break;
    case Api::kOllamaOaiCompletion:
      ollama::AppendOaiCompletionChunk(b, gen.id, gen.created, gen.req.model, "", std::nullopt,
                                       gen.req.include_usage);
      break;
    case Api::kVllmChat:
    case Api::kVllmCompletion:
      vllm::AppendStreamError(
          b, "EngineCore encountered an issue. See stack trace (above) for the root cause.",
          "InternalServerError", 500);
      vllm::AppendDone(b);
      break;
    case Api::kTgiGenerate:
    case Api::kTgiCompat:
      tgi::AppendStreamError(b, "Request failed during generation: simulated fault", "generation");
      break;
    case Api::kTgiChat:
    case Api::kTgiCompletion:
      tgi::AppendOaiStreamError(b, "Request failed during generation: simulated fault");
      break;
  }
}

void AppendMalformedEvent(std::string& b, const Generation& gen) {
  switch (gen.req.api) {
    case Api::kOllamaGenerate:
    case Api::kOllamaChat:
      b.append("{\"model\":");
      AppendJsonString(b, gen.req.model, JsonEscape::kGoHtml);
      b.append(",\"created_at\":\"20\n");
      break;
    case Api::kTgiGenerate:
    case Api::kTgiCompat:
    case Api::kTgiChat:
    case Api::kTgiCompletion: b.append("data:{\"index\":0,\"token\":{\"id\":\n\n"); break;
    default: b.append("data: {\"id\":\"").append(gen.id).append("\",\"object\n\n"); break;
  }
}

}  // namespace llmbench::sim
