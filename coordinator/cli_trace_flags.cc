#include "coordinator/cli_trace_flags.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "coordinator/trace_plan.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

absl::Status BadFlag(absl::string_view flag, absl::string_view why, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why, ", got \"", text, "\""));
}

absl::Status Seconds(const char* flag, const std::string& text, bool positive, double* out) {
  double value = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(text), &value) || !std::isfinite(value) ||
      value < 0 || (positive && value == 0) || value > 30.0 * 24 * 3600) {
    return BadFlag(
        flag, positive ? "must be a number of seconds > 0" : "must be a number of seconds >= 0",
        text);
  }
  *out = value;
  return absl::OkStatus();
}

bool Given(CLI::App* app, const char* name) {
  if (app == nullptr) return false;
  const CLI::Option* option = app->get_option_no_throw(name);
  return option != nullptr && option->count() > 0;
}

}  // namespace

void TraceFlags::Add(CLI::App* command) {
  app = command;
  command->add_option("--trace", file,
                      "Replay a timestamped JSONL trace (Mooncake {timestamp, input_length, "
                      "output_length, hash_ids} or plain {timestamp, prompt, max_tokens}), each "
                      "request at its own time, instead of --rate/--concurrency");
  command->add_option("--trace-format", format, "Trace format: auto (default), mooncake, plain");
  command->add_option("--trace-speedup", speedup,
                      "Play the trace this many times as fast (> 0, default 1)");
  command->add_option("--trace-start", start,
                      "Replay from this many seconds after the trace's first timestamp");
  command->add_option("--trace-end", end,
                      "Replay up to this many seconds after the trace's first timestamp");
  command->add_option("--trace-block-size", block_size,
                      "Mooncake traces: tokens per hash_ids block (default 512)");
  command->add_flag("--trace-loop", loop,
                    "Repeat the trace window until --duration or --requests ends the run");
}

absl::Status TraceFlags::Apply(v1::Scenario* scenario) const {
  if (file.empty()) {
    for (const char* flag : {"--trace-format", "--trace-speedup", "--trace-start", "--trace-end",
                             "--trace-block-size"}) {
      if (Given(app, flag)) return BadFlag(flag, "needs --trace FILE", "");
    }
    if (loop) return BadFlag("--trace-loop", "needs --trace FILE", "");
    return absl::OkStatus();
  }
  for (const char* flag : {"--rate", "--concurrency", "--poisson", "--prompt-tokens", "--dataset",
                           "--warmup", "--output-tokens-dist"}) {
    if (Given(app, flag)) {
      return BadFlag("--trace",
                     absl::StrCat("the trace sets the load and the prompts: drop ", flag), file);
    }
  }
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(file, ec).string();
  if (ec || ::access(absolute.c_str(), R_OK) != 0 || std::filesystem::is_directory(absolute, ec)) {
    return BadFlag("--trace", "must be a readable trace file", file);
  }
  v1::Load* load = scenario->mutable_load();
  v1::TraceLoad* trace = load->mutable_trace();  // replaces the concurrency default
  trace->set_file(absolute);
  trace->set_format(v1::TRACE_FORMAT_AUTO);
  if (!format.empty()) {
    const std::string f = absl::AsciiStrToLower(format);
    if (f == "mooncake") {
      trace->set_format(v1::TRACE_FORMAT_MOONCAKE);
    } else if (f == "plain") {
      trace->set_format(v1::TRACE_FORMAT_PLAIN);
    } else if (f != "auto") {
      return BadFlag("--trace-format", "expected auto, mooncake or plain", format);
    }
  }
  trace->set_speedup(1);
  if (!speedup.empty()) {
    double x = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(speedup), &x) || !std::isfinite(x) || x <= 0 ||
        x > 1e6) {
      return BadFlag("--trace-speedup", "must be a number > 0 and <= 1000000", speedup);
    }
    trace->set_speedup(x);
  }
  double start_s = 0;
  if (!start.empty()) {
    if (absl::Status s = Seconds("--trace-start", start, false, &start_s); !s.ok()) return s;
    trace->set_start_seconds(start_s);
  }
  if (!end.empty()) {
    double end_s = 0;
    if (absl::Status s = Seconds("--trace-end", end, true, &end_s); !s.ok()) return s;
    if (end_s <= start_s) return BadFlag("--trace-end", "must be after --trace-start", end);
    trace->set_end_seconds(end_s);
  }
  if (!block_size.empty()) {
    uint32_t b = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(block_size), &b) || b == 0 ||
        b > kMaxTraceBlockTokens) {
      return BadFlag("--trace-block-size",
                     absl::StrCat("must be a whole number of tokens from 1 to ",
                                  kMaxTraceBlockTokens),
                     block_size);
    }
    if (trace->format() == v1::TRACE_FORMAT_PLAIN) {
      return BadFlag("--trace-block-size", "only for mooncake traces (hash_ids)", block_size);
    }
    trace->set_block_tokens(b);
  }
  trace->set_loop(loop);
  // The trace decides how many requests there are; --requests caps them when given.
  if (!Given(app, "--requests")) load->clear_requests();
  if (loop && !load->has_requests() && !load->has_duration_seconds()) {
    return BadFlag("--trace-loop", "needs --duration or --requests to end the replay", "");
  }
  return absl::OkStatus();
}

}  // namespace llmbench::coordinator
