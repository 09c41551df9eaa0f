package main

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/geodr"
	"github.com/tandem-streaming/tandem/internal/httpapi"
	"github.com/tandem-streaming/tandem/internal/job"
	"github.com/tandem-streaming/tandem/internal/kafka"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

type serveConfig struct {
	Data          string        `yaml:"data"`
	KafkaAddr     string        `yaml:"kafka-addr"`
	HTTPAddr      string        `yaml:"http-addr"`
	AdvertiseHost string        `yaml:"advertise-host"`
	Region        string        `yaml:"region"`
	Dev           bool          `yaml:"dev"`
	Fsync         string        `yaml:"fsync"`
	FsyncInterval time.Duration `yaml:"fsync-interval"`
	FsyncBytes    int64         `yaml:"fsync-bytes"`
	SegmentBytes  int64         `yaml:"segment-bytes"`
	LogLevel      string        `yaml:"log-level"`
	Pprof         bool          `yaml:"pprof"`
	NodeID        int32         `yaml:"node-id"`
	AliasCheck    time.Duration `yaml:"alias-check-interval"`
	AdvertiseHTTP string        `yaml:"advertise-http"`
	Quotas        broker.Quotas `yaml:"-"` // flags in serve_quotas.go
}

func newServeCmd() *cobra.Command {
	var cfg serveConfig
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a region node: event hubs over Kafka and HTTP",
		Long: `Run a region node. Settings come from flags, then TANDEM_<FLAG> environment variables
(TANDEM_KAFKA_ADDR, TANDEM_DATA, …), then the YAML file given with --config.

Auth is on: each namespace has a RootManageSharedAccessKey policy; print its connection
string with 'tandem connection-string NS'. --dev also lets clients without SASL act in the
namespace "default" with every right (for kcat and local testing).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadServeConfig(cmd.Flags(), configFile, &cfg); err != nil {
				return err
			}
			return runServe(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML configuration file (keys are the flag names)")
	f.StringVar(&cfg.Data, "data", "./tandem-data", "data directory")
	f.StringVar(&cfg.KafkaAddr, "kafka-addr", "127.0.0.1:9092", "Kafka listener address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP listener address (API, /metrics, /healthz)")
	f.StringVar(&cfg.AdvertiseHost, "advertise-host", "", "host name Kafka clients are told to connect to (default: the listener's host)")
	f.StringVar(&cfg.Region, "region", "local", "region name of this node")
	f.BoolVar(&cfg.Dev, "dev", false, "allow anonymous clients as namespace \"default\" with every right")
	f.StringVar(&cfg.Fsync, "fsync", "interval", "fsync policy: interval, bytes or always")
	f.DurationVar(&cfg.FsyncInterval, "fsync-interval", 10*time.Millisecond, "group-commit interval with --fsync=interval")
	f.Int64Var(&cfg.FsyncBytes, "fsync-bytes", 1<<20, "unsynced bytes that trigger an fsync with --fsync=bytes")
	f.Int64Var(&cfg.SegmentBytes, "segment-bytes", 128<<20, "log segment size")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&cfg.AdvertiseHTTP, "advertise-http", "",
		"URL other regions reach this node's HTTP API at, for geo-DR (default: http://<advertise-host or listener host>:<http port>)")
	f.Int32Var(&cfg.NodeID, "node-id", -1, "Kafka node id of this node (default: derived from --region, so regions differ)")
	f.DurationVar(&cfg.AliasCheck, "alias-check-interval", 5*time.Second,
		"how often each geo-DR alias checks its partner region (a former primary learns a failover this way)")
	f.BoolVar(&cfg.Pprof, "pprof", false, "serve Go profiles at /debug/pprof/ on the HTTP listener (unauthenticated: local use only)")
	addQuotaFlags(f, &cfg.Quotas)
	return cmd
}

// loadServeConfig fills flags not set on the command line from the environment, then from
// the YAML file.
func loadServeConfig(fs *pflag.FlagSet, file string, cfg *serveConfig) error {
	var fromFile map[string]any
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("reading config file: %w", err)
		}
		if err := yaml.Unmarshal(b, &fromFile); err != nil {
			return fmt.Errorf("config file %s is not valid YAML: %w", file, err)
		}
	}
	var ferr error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || ferr != nil || fl.Name == "config" {
			return
		}
		env := "TANDEM_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fl.Value.Set(v); err != nil {
				ferr = fmt.Errorf("environment %s=%q: %w", env, v, err)
			}
			return
		}
		if v, ok := fromFile[fl.Name]; ok {
			if err := fl.Value.Set(fmt.Sprint(v)); err != nil {
				ferr = fmt.Errorf("config file key %s=%v: %w", fl.Name, v, err)
			}
		}
	})
	return ferr
}

func fsyncPolicy(cfg serveConfig) (seglog.FsyncPolicy, error) {
	switch cfg.Fsync {
	case "interval":
		return seglog.FsyncPolicy{Mode: seglog.FsyncInterval, Interval: cfg.FsyncInterval}, nil
	case "bytes":
		return seglog.FsyncPolicy{Mode: seglog.FsyncBytes, Bytes: cfg.FsyncBytes}, nil
	case "always":
		return seglog.FsyncPolicy{Mode: seglog.FsyncAlways}, nil
	}
	return seglog.FsyncPolicy{}, fmt.Errorf("--fsync=%q: choose interval, bytes or always", cfg.Fsync)
}

// advertised is the address other regions and clients reach listener addr at.
func advertised(cfg serveConfig, addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if cfg.AdvertiseHost != "" {
		host = cfg.AdvertiseHost
	}
	return net.JoinHostPort(host, port)
}

func runServe(ctx context.Context, cfg serveConfig) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("region", cfg.Region)
	policy, err := fsyncPolicy(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.NodeID < 0 {
		cfg.NodeID = int32(crc32.ChecksumIEEE([]byte(cfg.Region)) % 1000)
	}
	b, err := broker.Open(ctx, broker.Options{
		DataDir: cfg.Data, Region: cfg.Region, NodeID: cfg.NodeID, Dev: cfg.Dev, Fsync: policy,
		SegmentBytes: cfg.SegmentBytes, Logger: logger, Registerer: reg, Quotas: cfg.Quotas,
	})
	if err != nil {
		return err
	}
	defer b.Close()

	kln, err := net.Listen("tcp", cfg.KafkaAddr)
	if err != nil {
		return fmt.Errorf("kafka listener: %w", err)
	}
	kopts := kafka.Options{Broker: b, Dev: cfg.Dev, Logger: logger, AdvertisedHost: cfg.AdvertiseHost}
	ks := kafka.New(kln, kopts)
	hln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		ks.Close()
		return fmt.Errorf("http listener: %w", err)
	}
	endpoint := cfg.AdvertiseHTTP
	if endpoint == "" {
		endpoint = "http://" + advertised(cfg, hln.Addr())
	}
	geo := geodr.New(geodr.Options{Broker: b, Endpoint: endpoint,
		Kafka: advertised(cfg, kln.Addr()), NodeID: cfg.NodeID, Logger: logger, Registerer: reg, CheckEvery: cfg.AliasCheck})
	defer geo.Close()
	// A former primary that lost its alias to a failover while it was down learns it here,
	// before it takes alias traffic again.
	geo.Start(ctx)
	jobs, err := job.NewManager(b, cfg.Data, reg)
	if err != nil {
		ks.Close()
		return err
	}
	defer jobs.Close()
	var handler http.Handler = httpapi.New(httpapi.Options{Broker: b, Logger: logger, Gatherer: reg, Dev: cfg.Dev, Geo: geo, Jobs: jobs})
	if cfg.Pprof {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.Handle("/", handler)
		handler = mux
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- ks.Serve() }()
	go func() {
		if err := hs.Serve(hln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	// One line a script can wait for: the node is ready.
	fmt.Fprintf(os.Stdout, "tandem ready region=%s kafka=%s http=%s\n", cfg.Region, kln.Addr(), hln.Addr())
	logger.Info("serving", "kafka", kln.Addr().String(), "http", hln.Addr().String(), "data", cfg.Data, "dev", cfg.Dev,
		"fsync", cfg.Fsync+"/"+strconv.Itoa(int(cfg.FsyncInterval.Milliseconds()))+"ms")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	geo.Close()  // ends the secondary's long-polls first, so the HTTP shutdown does not wait for them
	jobs.Close() // each running job writes its rows and a checkpoint
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(shutdown)
	ks.Close()
	logger.Info("stopped")
	return serveErr
}
