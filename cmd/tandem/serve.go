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
	// MaxOpenLogFiles bounds open partition segment files; 0 means half of ulimit -n.
	MaxOpenLogFiles int      `yaml:"max-open-log-files"`
	PeerAllow       []string `yaml:"peer-allow"`
	PeerRegions     string   `yaml:"peer-regions-file"`

	Jobs     jobLimits     `yaml:",inline"` // --job-* (serve_jobs.go)
	Emulator emulatorFlags `yaml:",inline"` // --emulator-config (serve_emulator.go)

	// TLS (serve_tls.go)
	TLSCert      string        `yaml:"tls-cert"`
	TLSKey       string        `yaml:"tls-key"`
	TLSDev       bool          `yaml:"tls-dev"`
	TLSCA        string        `yaml:"tls-ca"`
	KafkaTLSAddr string        `yaml:"kafka-tls-addr"`
	AMQP         amqpConfig    `yaml:",inline"` // --amqp-addr, --amqps-addr, … (serve_amqp.go)
	HTTP         httpConfig    `yaml:",inline"` // HTTP listener bounds, /metrics access, Host check (serve_http.go)
	Kafka        kafkaLimits   `yaml:",inline"`
	Quotas       broker.Quotas `yaml:"-"`       // flags in serve_quotas.go
	Cluster      clusterConfig `yaml:",inline"` // --cluster, --zone, … (serve_cluster.go)
}

// kafkaLimits are the Kafka listener's bounds (kafka.Options).
type kafkaLimits struct {
	MaxConns      int           `yaml:"kafka-max-connections"`
	MaxConnsPerIP int           `yaml:"kafka-max-connections-per-ip"`
	AuthTimeout   time.Duration `yaml:"kafka-auth-timeout"`
	IdleTimeout   time.Duration `yaml:"kafka-idle-timeout"`
	WriteTimeout  time.Duration `yaml:"kafka-write-timeout"`
	SASLMaxBytes  int           `yaml:"kafka-sasl-max-receive-bytes"`
	MaxRequest    int           `yaml:"kafka-max-request-bytes"`
	MemoryBudget  int64         `yaml:"kafka-memory-budget"`
	ConnMemory    int64         `yaml:"kafka-connection-memory"`
	FetchMaxBytes int32         `yaml:"kafka-fetch-max-bytes"`
}

func addKafkaLimitFlags(f *pflag.FlagSet, k *kafkaLimits) {
	f.IntVar(&k.MaxConns, "kafka-max-connections", kafka.DefaultMaxConnections,
		"open Kafka connections in total; more are closed at accept")
	f.IntVar(&k.MaxConnsPerIP, "kafka-max-connections-per-ip", kafka.DefaultMaxConnectionsPerIP,
		"open Kafka connections from one client address (IPv4: the address, IPv6: its /64); more are closed at accept")
	f.DurationVar(&k.AuthTimeout, "kafka-auth-timeout", kafka.DefaultAuthTimeout,
		"time a Kafka connection has to complete SASL (with --dev: to send its first request)")
	f.DurationVar(&k.IdleTimeout, "kafka-idle-timeout", kafka.DefaultIdleTimeout,
		"an authenticated Kafka connection with nothing in flight for this long is closed (Kafka: connections.max.idle.ms)")
	f.DurationVar(&k.WriteTimeout, "kafka-write-timeout", kafka.DefaultWriteTimeout,
		"time to write one Kafka response; a client that stops reading its responses is disconnected (Kafka: request.timeout.ms)")
	f.IntVar(&k.SASLMaxBytes, "kafka-sasl-max-receive-bytes", kafka.DefaultPreAuthFrameBytes,
		"largest Kafka frame before SASL completes (Kafka: sasl.server.max.receive.size)")
	f.IntVar(&k.MaxRequest, "kafka-max-request-bytes", kafka.DefaultMaxRequestBytes,
		"largest Kafka request frame (Kafka: socket.request.max.bytes)")
	f.Int64Var(&k.MemoryBudget, "kafka-memory-budget", kafka.DefaultMemoryBudget,
		"bytes all Kafka connections may hold at once for request frames and responses")
	f.Int64Var(&k.ConnMemory, "kafka-connection-memory", 0,
		"bytes of --kafka-memory-budget one connection's unwritten fetch responses may hold (0: a quarter of the budget, or one largest fetch if more)")
	f.Int32Var(&k.FetchMaxBytes, "kafka-fetch-max-bytes", kafka.DefaultFetchMaxBytes,
		"largest Kafka fetch response, whatever the client asks (Kafka: fetch.max.bytes)")
}

func newServeCmd() *cobra.Command {
	var cfg serveConfig
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a region node: event hubs over Kafka, AMQP and HTTP",
		Long: `Run a region node. Settings come from flags, then TANDEM_<FLAG> environment variables
(TANDEM_KAFKA_ADDR, TANDEM_DATA, …), then the YAML file given with --config.

Auth is on: each namespace has a RootManageSharedAccessKey policy; print its connection
string with 'tandem connection-string NS'. --dev also lets clients without SASL act in the
namespace "default" with every right (for kcat and local testing).

TLS: --tls-cert and --tls-key (PEM), or --tls-dev for a local CA and node certificate created
in <data>/tls, add a SASL_SSL Kafka listener (--kafka-tls-addr, default 127.0.0.1:9093) and
serve the API over HTTPS on --http-addr; --kafka-addr "" drops the plaintext Kafka listener.

AMQP: the Azure Event Hubs SDKs connect on --amqp-addr (default 127.0.0.1:5672, the port of
connection strings with UseDevelopmentEmulator=true) and, with TLS, on --amqps-addr (default
127.0.0.1:5671); "off" turns either off.
Clients trust the CA (kcat -X ssl.ca.location=<data>/tls/ca.pem, the CLI's --ca), and geo-DR
calls to https partners trust --tls-ca (default: the system roots; the dev CA with --tls-dev).`,
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
	f.StringVar(&cfg.KafkaAddr, "kafka-addr", "127.0.0.1:9092", `plaintext Kafka listener address; "" for none (with TLS, clients use --kafka-tls-addr)`)
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP listener address (API, /metrics, /healthz); HTTPS when TLS is on")
	addTLSFlags(f, &cfg)
	addAMQPFlags(f, &cfg.AMQP)
	f.StringVar(&cfg.AdvertiseHost, "advertise-host", "", "host name Kafka clients are told to connect to (default: the listener's host)")
	f.StringVar(&cfg.Region, "region", "local", "region name of this node")
	f.BoolVar(&cfg.Dev, "dev", false, "allow anonymous clients as namespace \"default\" with every right")
	f.StringVar(&cfg.Fsync, "fsync", "interval", "fsync policy: interval, bytes or always")
	f.DurationVar(&cfg.FsyncInterval, "fsync-interval", 10*time.Millisecond, "group-commit interval with --fsync=interval")
	f.Int64Var(&cfg.FsyncBytes, "fsync-bytes", 1<<20, "unsynced bytes that trigger an fsync with --fsync=bytes")
	f.Int64Var(&cfg.SegmentBytes, "segment-bytes", 128<<20, "log segment size")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&cfg.AdvertiseHTTP, "advertise-http", "",
		"URL other regions reach this node's HTTP API at, for geo-DR (default: http[s]://<advertise-host or listener host>:<http port>)")
	f.Int32Var(&cfg.NodeID, "node-id", -1,
		"Kafka node id of this node (default: derived from --region, so regions differ); with --cluster, its member id (1 to 65535), required")
	f.DurationVar(&cfg.AliasCheck, "alias-check-interval", 5*time.Second,
		"how often each geo-DR alias checks its partner region (a former primary learns a failover this way)")
	f.StringSliceVar(&cfg.PeerAllow, "peer-allow", nil,
		"partner regions geo-DR may pair with and call, comma-separated: http(s)://host:port, host:port or a host (any port); "+
			"with no list (nor --peer-regions-file) only the admin key may name a partner endpoint")
	f.StringVar(&cfg.PeerRegions, "peer-regions-file", "",
		"regions file (as tandem dev writes it) whose servers geo-DR may pair with and call, read at each check; adds to --peer-allow")
	addKafkaLimitFlags(f, &cfg.Kafka)
	f.BoolVar(&cfg.Pprof, "pprof", false, "serve Go profiles at /debug/pprof/ on the HTTP listener (unauthenticated: local use only)")
	f.IntVar(&cfg.MaxOpenLogFiles, "max-open-log-files", 0,
		"partition segment files kept open (one fd each); beyond it idle partitions close theirs and reopen on use (0: half of ulimit -n)")
	cfg.Jobs.register(f)
	cfg.Emulator.register(f)
	addHTTPFlags(f, &cfg.HTTP)
	addQuotaFlags(f, &cfg.Quotas)
	addClusterFlags(f, &cfg.Cluster)
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
		if err := checkConfigKeys(fs, file, fromFile); err != nil {
			return err
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
			if err := fl.Value.Set(yamlFlagValue(v)); err != nil {
				ferr = fmt.Errorf("config file key %s=%v: %w", fl.Name, v, err)
			}
		}
	})
	return ferr
}

// yamlFlagValue is a YAML value as a flag's text: a list (peer-allow: [a, b]) becomes the
// comma-separated form list flags take.
func yamlFlagValue(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprint(v)
	}
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprint(e)
	}
	return strings.Join(parts, ",")
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
	if cfg.NodeID < 0 && !cfg.Cluster.enabled() { // a cluster member's id is given, never derived
		cfg.NodeID = int32(crc32.ChecksumIEEE([]byte(cfg.Region)) % 1000)
	}
	emu, err := cfg.Emulator.prepare(&cfg)
	if err != nil {
		return err
	}
	// The listeners first: cluster mode records their addresses and secures raft with their TLS.
	lns, err := openListeners(cfg)
	if err != nil {
		return err
	}
	peerTrust, err := peerTLS(cfg, lns.tls)
	if err != nil {
		lns.close()
		return err
	}
	cl, err := openClusterNode(ctx, cfg, lns, peerTrust, logger, reg)
	if err != nil {
		lns.close()
		return err
	}
	b, err := broker.Open(ctx, cl.brokerOptions(broker.Options{
		DataDir: cfg.Data, Region: cfg.Region, NodeID: cfg.NodeID, Dev: cfg.Dev, Fsync: policy,
		SegmentBytes: cfg.SegmentBytes, Logger: logger, Registerer: reg, Quotas: cfg.Quotas,
		MaxOpenLogFiles: cfg.MaxOpenLogFiles, FS: testFS(logger), DecodeMemory: cfg.HTTP.ReceiveMemory,
		AMQPAddr: lns.amqpEndpoint(cfg),
	}, cfg))
	if err != nil {
		cl.close()
		lns.close()
		return err
	}
	defer b.Close()
	if err := applyEmulatorConfig(ctx, b, emu, logger); err != nil {
		lns.close()
		return err
	}

	kopts := kafka.Options{Broker: b, Dev: cfg.Dev, Logger: logger, AdvertisedHost: cfg.AdvertiseHost, Registerer: reg,
		MaxConnections: cfg.Kafka.MaxConns, MaxConnectionsPerIP: cfg.Kafka.MaxConnsPerIP,
		AuthTimeout: cfg.Kafka.AuthTimeout, IdleTimeout: cfg.Kafka.IdleTimeout, WriteTimeout: cfg.Kafka.WriteTimeout,
		PreAuthFrameBytes: cfg.Kafka.SASLMaxBytes, MaxRequestBytes: cfg.Kafka.MaxRequest,
		MemoryBudget: cfg.Kafka.MemoryBudget, FetchMaxBytes: cfg.Kafka.FetchMaxBytes, ConnMemoryShare: cfg.Kafka.ConnMemory}
	ks := lns.kafkaServers(kopts)
	as := lns.amqpServer(b, cfg, logger, reg)
	closeServers := func() { ks.Close(); as.Close() }
	hln := lns.http
	endpoint := cfg.AdvertiseHTTP
	if endpoint == "" {
		endpoint = lns.scheme() + "://" + advertised(cfg, hln.Addr())
	}
	geo := geodr.New(geodr.Options{Broker: b, Endpoint: endpoint, TLS: peerTrust,
		Kafka: lns.geoKafka(cfg), AMQP: lns.geoAMQP(cfg), NodeID: cfg.NodeID, Logger: logger, Registerer: reg, CheckEvery: cfg.AliasCheck,
		PeerAllow: cfg.PeerAllow, RegionsFile: cfg.PeerRegions})
	defer geo.Close()
	// A former primary that lost its alias to a failover while it was down learns it here,
	// before it takes alias traffic again.
	geo.Start(ctx)
	jobs, err := job.NewManager(cfg.Jobs.options(b, cfg.Data, reg))
	if err != nil {
		closeServers()
		return err
	}
	defer jobs.Close()
	apiOpts, err := cfg.HTTP.apiOptions(httpapi.Options{Broker: b, Logger: logger, Gatherer: reg, Dev: cfg.Dev, Geo: geo, Jobs: jobs,
		ForwardTLS: peerTrust},
		hln, cfg.AdvertiseHost, endpoint)
	if err != nil {
		closeServers()
		return err
	}
	api := httpapi.New(apiOpts)
	defer api.Close() // after the HTTP shutdown below: ends forwards to other nodes
	handler := withSegments(api, b)
	if cfg.Pprof {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.Handle("/", handler)
		handler = mux
	}
	hs := httpapi.NewHTTPServer(handler, cfg.HTTP.connLimits(), logger)
	hln = httpapi.LimitListener(hln, cfg.HTTP.MaxConns)
	stopMetrics, err := cfg.HTTP.serveMetrics(reg, b, logger)
	if err != nil {
		closeServers()
		return err
	}
	defer stopMetrics()

	errc := make(chan error, 1+len(ks)+as.listeners())
	ks.serve(errc)
	as.serve(errc)
	go func() {
		if err := lns.serveHTTP(hs, hln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	// One line a script can wait for: the node is ready.
	nodePart := cl.recordEndpoints(b, cfg, lns, endpoint)
	lns.printDevTrust(os.Stdout, cfg)
	fmt.Fprintln(os.Stdout, lns.readyLine(cfg.Region)+nodePart)
	logger.Info("serving", "kafka", addr(lns.kafka), "kafka-tls", addr(lns.kafkaTLS), "http", lns.scheme()+"://"+hln.Addr().String(),
		"amqp", addr(lns.amqp), "amqps", addr(lns.amqps),
		"data", cfg.Data, "dev", cfg.Dev,
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
	closeServers() // Kafka and AMQP connections end before the broker closes (deferred above)
	logger.Info("stopped")
	return serveErr
}
