#include "engines/engine_protocol.h"

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engines/ollama_protocol.h"
#include "engines/openai_protocol.h"
#include "engines/tgi_protocol.h"

namespace llmbench::engines {
namespace {

using llmbench::v1::Api;
using llmbench::v1::EngineKind;

absl::string_view KindName(EngineKind kind) {
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      return "ollama";
    case llmbench::v1::ENGINE_KIND_VLLM:
      return "vllm";
    case llmbench::v1::ENGINE_KIND_TGI:
      return "tgi";
    case llmbench::v1::ENGINE_KIND_OPENAI:
      return "openai";
    default:
      return "unspecified";
  }
}

absl::string_view ApiName(Api api) {
  switch (api) {
    case llmbench::v1::API_OLLAMA_GENERATE:
      return "ollama_generate (/api/generate)";
    case llmbench::v1::API_OLLAMA_CHAT:
      return "ollama_chat (/api/chat)";
    case llmbench::v1::API_COMPLETIONS:
      return "completions (/v1/completions)";
    case llmbench::v1::API_CHAT_COMPLETIONS:
      return "chat_completions (/v1/chat/completions)";
    case llmbench::v1::API_TGI_GENERATE:
      return "tgi_generate (/generate_stream)";
    default:
      return "unspecified";
  }
}

absl::string_view ServedApis(EngineKind kind) {
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      return "ollama_generate, ollama_chat, completions and chat_completions";
    case llmbench::v1::ENGINE_KIND_TGI:
      return "tgi_generate, completions and chat_completions";
    default:
      return "completions and chat_completions";
  }
}

Api DefaultApi(EngineKind kind) {
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      return llmbench::v1::API_OLLAMA_GENERATE;
    case llmbench::v1::ENGINE_KIND_TGI:
      return llmbench::v1::API_TGI_GENERATE;
    default:
      return llmbench::v1::API_CHAT_COMPLETIONS;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EngineProtocol>> MakeEngineProtocol(
    const llmbench::v1::Engine& engine, const llmbench::v1::Generation& generation) {
  const EngineKind kind = engine.kind();
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
    case llmbench::v1::ENGINE_KIND_VLLM:
    case llmbench::v1::ENGINE_KIND_TGI:
    case llmbench::v1::ENGINE_KIND_OPENAI:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("engine \"", engine.name(), "\": kind is unspecified or unknown (",
                       static_cast<int>(kind), "); expected ollama, vllm, tgi or openai"));
  }
  const Api api = engine.api() == llmbench::v1::API_UNSPECIFIED ? DefaultApi(kind) : engine.api();
  const bool ollama_native =
      api == llmbench::v1::API_OLLAMA_GENERATE || api == llmbench::v1::API_OLLAMA_CHAT;
  const bool openai_route =
      api == llmbench::v1::API_COMPLETIONS || api == llmbench::v1::API_CHAT_COMPLETIONS;
  const bool tgi_native = api == llmbench::v1::API_TGI_GENERATE;
  const bool supported = openai_route ||
                         (ollama_native && kind == llmbench::v1::ENGINE_KIND_OLLAMA) ||
                         (tgi_native && kind == llmbench::v1::ENGINE_KIND_TGI);
  if (!supported) {
    if (!ollama_native && !openai_route && !tgi_native) {
      return absl::InvalidArgumentError(absl::StrCat("engine \"", engine.name(),
                                                     "\": unknown api ", static_cast<int>(api)));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "engine \"", engine.name(), "\": api ", ApiName(api), " does not exist on a ",
        KindName(kind), " engine; ", KindName(kind), " serves ", ServedApis(kind)));
  }
  // TGI routes ignore the model name (OpenAiProtocol sends "tgi"); the others need it.
  if (engine.model().empty() && !(kind == llmbench::v1::ENGINE_KIND_TGI)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "engine \"", engine.name(), "\": model is empty; a ", KindName(kind),
        " engine needs the model name in every request"));
  }
  if (ollama_native) return std::make_unique<OllamaProtocol>(engine, generation, api);
  if (tgi_native) return std::make_unique<TgiProtocol>(engine, generation);
  return std::make_unique<OpenAiProtocol>(engine, generation, api);
}

}  // namespace llmbench::engines
