package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/bench"
)

// newBenchCmd returns `tandem bench`, the load generator. It only parses flags and prints; the
// measuring is internal/bench's.
func newBenchCmd() *cobra.Command {
	var (
		o        bench.Options
		brokers  string
		mode     string
		connStr  string
		output   string
		duration time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency against a Kafka endpoint",
		Long: `Bench drives a Kafka-protocol endpoint (Tandem or any Kafka-compatible broker) with
franz-go clients and prints records/s, MB/s and latency percentiles.

Modes: "produce" writes for --duration (or --records); "consume" reads the topic from its
start; "both" writes, then reads back exactly what it wrote, measuring each phase alone;
"e2e" runs producers and consumers together and reports end-to-end latency.

To connect to Tandem with a connection string, pass --connection-string or set
TANDEM_CONNECTION_STRING: it is sent as the SASL PLAIN password of user $ConnectionString.`,
		Example: `  tandem bench --brokers 127.0.0.1:9092 --duration 30s
  tandem bench --mode produce --records 1000000 --acks 1 --compression lz4 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output %q; use text or json", output)
			}
			o.Brokers = strings.Split(brokers, ",")
			o.Mode = bench.Mode(mode)
			if o.Records == 0 {
				o.Duration = duration
			}
			if connStr == "" {
				connStr = os.Getenv("TANDEM_CONNECTION_STRING")
			}
			if connStr != "" {
				o.SASLUser, o.SASLPassword = bench.ConnectionStringUser, connStr
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			res, err := bench.Run(ctx, o)
			if res.Produce != nil || res.Consume != nil {
				if output == "json" {
					b, jerr := res.JSON()
					if jerr != nil {
						return jerr
					}
					fmt.Fprintln(cmd.OutOrStdout(), string(b))
				} else {
					fmt.Fprint(cmd.OutOrStdout(), res)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated seed brokers (host:port)")
	f.StringVar(&o.Topic, "topic", "bench", "topic to write and read")
	f.IntVar(&o.Partitions, "partitions", 8, "partitions of the topic when bench creates it (0: the topic must exist)")
	f.IntVar(&o.RecordSize, "record-size", 1024, "bytes of each record's value")
	f.IntVar(&o.BatchMaxBytes, "batch-bytes", 0, "producer batch size cap in bytes (0: franz-go's default, 1 MB)")
	f.DurationVar(&o.Linger, "linger", 10*time.Millisecond, "how long a producer batch waits to fill")
	f.StringVar(&o.Acks, "acks", "all", "acknowledgements a write waits for: 0, 1 or all")
	f.StringVar(&o.Compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.IntVar(&o.Producers, "producers", 1, "concurrent producer clients")
	f.IntVar(&o.MaxInFlight, "max-in-flight", 0, "records each producer may have unacknowledged before it waits (0: franz-go's default, 50000)")
	f.Float64Var(&o.Rate, "rate", 0, "records per second all producers send together, each at its scheduled time (latency counts from it); 0: as fast as possible. 10 MB/s of 1 KiB records is --rate 10240")
	f.DurationVar(&o.MetadataMinAge, "metadata-min-age", 0, "shortest time between a client's metadata refreshes, so how soon it finds a new leader (0: franz-go's default, 5s; the Java client's retry.backoff.ms is 100ms)")
	f.IntVar(&o.Consumers, "consumers", 1, "concurrent consumer clients (partitions are split among them)")
	f.DurationVar(&duration, "duration", 10*time.Second, "how long to produce (ignored when --records is set)")
	f.Int64Var(&o.Records, "records", 0, "records to produce (0: produce for --duration)")
	f.DurationVar(&o.Timeout, "timeout", 0, "bound on the whole run (0: duration + 2m, or 10m with --records)")
	f.StringVar(&mode, "mode", string(bench.ModeBoth), "produce, consume, both or e2e")
	f.StringVar(&connStr, "connection-string", "", "Event Hubs connection string for SASL PLAIN (default $TANDEM_CONNECTION_STRING)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.StringVar(&o.HTTP, "http", "", "base URL of a Tandem node's HTTP API (http://host:port): produce through its send API instead of Kafka (--mode produce; namespace from --connection-string, else the dev namespace)")
	f.IntVar(&o.HTTPBatch, "http-batch", bench.DefaultHTTPBatch, "events per HTTP send request (with --http)")
	return cmd
}
