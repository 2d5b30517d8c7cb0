// The `llmbench` command line: run, quick, load, compare, engines, report. Each subcommand's
// --help teaches by example.
#ifndef LLMBENCH_COORDINATOR_CLI_H_
#define LLMBENCH_COORDINATOR_CLI_H_

namespace llmbench::coordinator {

// Parses argv and runs the command; returns the process exit status (0 ok, 1 error before or
// during the run, 2 bad usage, 3 error-rate threshold crossed, 4 run INVALID, 130 interrupted).
int RunCli(int argc, char** argv);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_CLI_H_
