#include "coordinator/cli.h"

int main(int argc, char** argv) { return llmbench::coordinator::RunCli(argc, argv); }
