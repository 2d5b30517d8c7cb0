// `llmbench validate SCENARIO`: loads and resolves a scenario and shows what a run would do,
// sending nothing (no engine, worker or exporter is contacted): the resolved scenario as YAML
// (defaults applied), the prompts (lengths as the words rule or a local tokenizer.json counts
// them; an engine tokenize route is used only at run time), the shards each worker would get,
// and the arrival schedule's first seconds and totals. Exit status 0 when the scenario is valid,
// 2 when it is not (the message names the file, line, field and reason, as `run` says it).
//
// --workers N (a number) or --workers host:port,... (the addresses are counted, not resolved);
// default: one local worker per core, as `run` starts them.
//
// Thread-safety: one instance per command line, used on the main thread.
#ifndef LLMBENCH_COORDINATOR_CLI_VALIDATE_H_
#define LLMBENCH_COORDINATOR_CLI_VALIDATE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace llmbench::coordinator {

class ValidateCommand {
 public:
  void Add(CLI::App* app);
  bool Parsed() const;
  int Run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string scenario_;
  std::vector<std::string> workers_;
  std::string seconds_ = "5";
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_CLI_VALIDATE_H_
