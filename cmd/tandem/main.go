// Command tandem is the one Tandem binary: `tandem serve` runs a region node, and the other
// subcommands are the CLI over its HTTP API. This package holds flag parsing and wiring only.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		var e *errcode.Error
		if errors.As(err, &e) {
			os.Exit(errcode.ExitCode(err))
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tandem",
		Short: "Tandem: geo-redundant event hubs that speak Kafka, AMQP and HTTP",
		Long: `Tandem runs Event Hubs-style namespaces, event hubs and consumer groups on a durable log,
served over the Kafka protocol, AMQP (the Azure Event Hubs SDKs) and HTTP.

  tandem serve --dev                      run a node (anonymous Kafka clients allowed)
  tandem hub create default/orders        create an event hub
  tandem send default/orders < events     send events, one per line
  tandem receive default/orders           read them back (every partition; -p P for one)
  tandem dev                              two regions, a geo-DR alias and a sample hub, locally

The CLI finds the server with --server or TANDEM_SERVER (default http://127.0.0.1:8080).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addClientFlags(root)
	root.AddCommand(newServeCmd())
	addCLICommands(root)
	root.AddCommand(newBenchCmd())
	root.AddCommand(newDevCmd())
	root.AddCommand(newDrillCmd())
	return root
}
