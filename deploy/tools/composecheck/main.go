// composecheck loads a Compose file the way `docker compose config` does, with the Compose
// Specification's reference loader (github.com/compose-spec/compose-go/v2): JSON-schema
// validation, interpolation, merge and the semantic checks (unknown services in depends_on,
// bad durations, ...). It prints the resolved project as YAML and exits 0, or prints the
// loader's error and exits 1. Used by scripts/check-deploy.sh; no container engine needed.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck COMPOSE_FILE")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions([]string{os.Args[1]}, cli.WithOsEnv,
		cli.WithDotEnv, cli.WithName("llmbench"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
