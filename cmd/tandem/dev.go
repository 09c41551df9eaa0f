package main

// `tandem dev`: a complete local two-region setup in one command. It runs two child processes
// of this executable (`serve --region east` and `serve --region west`), pairs a namespace of
// each under the alias tandem-dev, creates a sample event hub, prints how to connect, and stops
// both children when interrupted. Everything it creates is reused when it runs again on the
// same directory.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// The names tandem dev creates.
const (
	devAlias     = "tandem-dev"
	devHub       = "sample"
	devHubParts  = 4
	devPortShift = 100 // west listens on east's ports + 100
)

// devRegions are the two regions, primary first.
var devRegions = [2]struct{ name, namespace string }{{"east", "tandem-east"}, {"west", "tandem-west"}}

// Time bounds of tandem dev.
const (
	devReadyTimeout = 60 * time.Second // for a child's ready line
	devStopGrace    = 10 * time.Second // between SIGTERM and SIGKILL of a child
	devSignalGrace  = 2 * time.Second  // a child that exited cleanly may have had our Ctrl-C first
)

// devSettings are the flags of tandem dev.
type devSettings struct {
	dir       string
	kafkaPort int
	httpPort  int
	amqpPort  int
	timeout   time.Duration
	tls       bool
	nodes     int // per region: 1, or 3 for a cluster (dev_cluster.go)
	raftPort  int // with --nodes 3: raft port of east's first node
}

func newDevCmd() *cobra.Command {
	var s devSettings
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a complete local two-region setup: two nodes, a paired alias and a sample event hub",
		Long: `Run two region nodes on 127.0.0.1 as child processes, east (Kafka --kafka-port, HTTP --http-port,
AMQP --amqp-port for the Azure Event Hubs SDKs) and west (the same ports + 100), with data in --dir/east and --dir/west and their logs in
--dir/east.log and --dir/west.log. Then, reusing whatever already exists:

  namespace tandem-east in east, the primary, and tandem-west in west, the secondary
  alias tandem-dev pairing them, waited on until it has Succeeded
  event hub sample (4 partitions) on the primary, waited on until the secondary has it

It prints both regions' addresses, the alias connection string, the Kafka bootstrap list of
both regions, kcat command lines, the connection string of the Azure Event Hubs SDKs (AMQP,
UseDevelopmentEmulator=true), and writes --dir/kcat.conf for 'kcat -F'. Its last line is

  tandem dev ready alias=tandem-dev bootstrap=EAST_KAFKA,WEST_KAFKA east=EAST_HTTP west=WEST_HTTP

Ctrl-C (or SIGTERM) stops both nodes and exits 0. If a node dies while the setup runs,
tandem dev says which one and where its log is, stops the other and exits non-zero. Once the
setup is done a region may die (kill -9 the primary to rehearse a failover): tandem dev says so,
prints the command that starts it again, and keeps the other region running. Port 0 lets each
node pick a free port.

With --tls both regions serve Kafka over TLS only (SASL_SSL) on the Kafka ports and the API
over HTTPS, with certificates of a dev CA created in --dir/tls (reused on later runs). Clients
trust --dir/tls/ca.pem (kcat -X ssl.ca.location=…, the CLI's --ca); the ready line ends with
ca=--dir/tls/ca.pem.

With --nodes 3 each region is a 3-node cluster on 127.0.0.1 (zones a, b and c): east's nodes
listen on --kafka-port, --http-port and --raft-port and the two ports after each, west's on
those + 100. A region's directory --dir/east holds its nodes' data (node-1 …), their logs
(node-1.log …), and the cluster secret and admin key files its nodes share (mode 0600). The
setup talks to each region's metadata leader; the summary lists every node, the bootstrap list
names all six brokers, and the ready line ends with nodes=3. 'tandem cluster status' shows a
region's health.`,
		Example: `  tandem dev
  tandem dev --dir /tmp/td --kafka-port 0 --http-port 0
  tandem dev --tls
  tandem dev --nodes 3`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.check(); err != nil {
				return err
			}
			return runDev(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.dir, "dir", "./tandem-dev", "directory of both regions' data, logs and kcat.conf")
	f.IntVar(&s.kafkaPort, "kafka-port", 9092, "Kafka port of east; west uses it + 100; 0 picks free ports")
	f.IntVar(&s.httpPort, "http-port", 8080, "HTTP port of east; west uses it + 100; 0 picks free ports")
	f.IntVar(&s.amqpPort, "amqp-port", 5672, "AMQP port of east (the Azure Event Hubs SDKs); west uses it + 100; 0 picks free ports")
	f.DurationVar(&s.timeout, "timeout", 2*time.Minute, "how long setting up the alias and the sample hub may take")
	f.BoolVar(&s.tls, "tls", false, "serve Kafka over TLS only (SASL_SSL, on --kafka-port) and the API over HTTPS, "+
		"with a dev CA in --dir/tls that both regions share; clients trust --dir/tls/ca.pem")
	f.IntVar(&s.nodes, "nodes", 1, "nodes per region: 1, or 3 to run each region as a 3-node cluster in zones a, b and c")
	f.IntVar(&s.raftPort, "raft-port", 7001, "with --nodes 3: raft port of east's first node (the nodes use it to it + 2, west those + 100); 0 picks free ports")
	return cmd
}

func (s devSettings) check() error {
	for _, p := range []struct {
		flag string
		port int
	}{{"--kafka-port", s.kafkaPort}, {"--http-port", s.httpPort}, {"--amqp-port", s.amqpPort}} {
		if p.port < 0 || p.port > 65535-devPortShift {
			return errcode.New(errcode.InvalidArgument,
				"%s %d is out of range; use 1 to %d (west listens on it + %d), or 0 for free ports",
				p.flag, p.port, 65535-devPortShift, devPortShift)
		}
	}
	if s.kafkaPort != 0 && s.kafkaPort == s.httpPort {
		return errcode.New(errcode.InvalidArgument, "--kafka-port and --http-port are both %d; give two different ports", s.kafkaPort)
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"--kafka-port", s.kafkaPort}, {"--http-port", s.httpPort}} {
		if s.amqpPort != 0 && s.amqpPort == p.port {
			return errcode.New(errcode.InvalidArgument, "--amqp-port and %s are both %d; give two different ports", p.flag, p.port)
		}
	}
	if s.dir == "" {
		return errcode.New(errcode.InvalidArgument, "--dir is empty; name the directory for the regions' data")
	}
	if s.timeout <= 0 {
		return errcode.New(errcode.InvalidArgument, "--timeout %v is invalid; use a positive duration such as 2m", s.timeout)
	}
	return s.checkNodes()
}

// listenAddr is 127.0.0.1 and the port of region i (0 stays 0).
func (s devSettings) listenAddr(port, i int) string {
	if port != 0 {
		port += i * devPortShift
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// errInterrupted is the cause of a run ended by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

// devRun is one run of tandem dev: its two children and what setting up produced.
type devRun struct {
	s        devSettings
	tls      *devTLS // with --tls
	stderr   io.Writer
	children []*devChild             // started so far, in devRegions order
	ready    atomic.Bool             // the setup is done: a region may now die without ending the run
	info     atomic.Pointer[devInfo] // once the setup is done: what hints name (dev_hints.go)
}

func runDev(ctx context.Context, stdout, stderr io.Writer, s devSettings) error {
	exe, err := os.Executable()
	if err != nil {
		return errcode.New(errcode.Internal, "finding the tandem executable to run the regions: %w", err)
	}
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	d := &devRun{s: s, stderr: stderr}
	defer d.stop()
	if s.tls {
		if d.tls, err = ensureDevTLS(s.dir, stderr); err != nil {
			return err
		}
	}
	for i, r := range devRegions {
		specs, err := d.regionSpecs(exe, i)
		if err != nil {
			return err
		}
		for _, spec := range specs {
			c, err := startDevChild(r.name, spec, d.tls)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "tandem dev: started %s (pid %d), log in %s\n", spec.Name, c.proc.Pid(), spec.Log)
			d.children = append(d.children, c)
		}
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.watch(runCtx, cancel, sigc)
	}()
	defer wg.Wait()
	defer cancel(nil)

	info, err := d.setup(runCtx)
	if err != nil {
		if d.anyExited() {
			<-runCtx.Done() // the watcher tells a death from a Ctrl-C the child had first
		}
		return d.outcome(runCtx, err)
	}
	d.info.Store(info)
	d.ready.Store(true)
	if err := info.print(stdout); err != nil {
		return err
	}
	<-runCtx.Done()
	return d.outcome(runCtx, nil)
}

// outcome turns the end of a run into its result: nil when interrupted, the child's death
// when one died, else err.
func (d *devRun) outcome(runCtx context.Context, err error) error {
	cause := context.Cause(runCtx)
	var died *childExitError
	switch {
	case errors.Is(cause, errInterrupted) || (runCtx.Err() != nil && cause == runCtx.Err()):
		fmt.Fprintln(d.stderr, "tandem dev: stopping both regions")
		return nil
	case errors.As(cause, &died):
		return died
	}
	return err
}

func (d *devRun) anyExited() bool {
	for _, c := range d.children {
		if c.proc.HasExited() {
			return true
		}
	}
	return false
}

// watch cancels the run when a signal comes, or when a child exits while the setup still
// needs both. Once the setup is done a region may die on purpose (a failover rehearsal: kill
// -9 the primary, fail over, restart it): watch says so, prints how to start it again, and
// keeps the other region running; the run ends when both are gone. A child that exited
// cleanly or by SIGINT may have had the terminal's Ctrl-C before us; a signal that follows
// within devSignalGrace makes it an interruption rather than a death.
func (d *devRun) watch(ctx context.Context, cancel context.CancelCauseFunc, sigc <-chan os.Signal) {
	exited := make(chan *devChild, len(d.children))
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	for _, c := range d.children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-c.proc.Exited():
				exited <- c
			case <-wctx.Done():
			}
		}()
	}
	for alive := len(d.children); ; {
		var dead *devChild
		select {
		case <-ctx.Done():
			return
		case <-sigc:
			cancel(errInterrupted)
			return
		case dead = <-exited:
		}
		alive--
		if dead.proc.StoppedOnRequest() {
			t := time.NewTimer(devSignalGrace)
			select {
			case <-sigc:
				t.Stop()
				cancel(errInterrupted)
				return
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if !d.ready.Load() || alive == 0 {
			cancel(dead.exitError())
			return
		}
		others := "the other region keeps"
		if d.s.clustered() {
			others = "the other nodes keep"
		}
		fmt.Fprintf(d.stderr, "tandem dev: %v\ntandem dev: %s running; start %s again (same data and ports) with:\n  %s\n",
			dead.exitError(), others, strings.TrimPrefix(strings.TrimPrefix(dead.spec.Name, "region "), "node "), dead.restartCommand())
		printHint(d.stderr, d.regionHint(dead))
	}
}

// restartCommand is the command line that starts the child's region again by hand.
func (c *devChild) restartCommand() string {
	argv := c.restartSpec().Command()
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ") + " 2>>" + shellQuote(c.spec.Log)
}

// restartSpec is the child's spec with the addresses it was ready on, so that it starts again
// on the same ports.
func (c *devChild) restartSpec() nodeproc.Spec {
	if c.kafkaAddr == "" { // never ready
		return c.spec
	}
	return c.spec.WithAddrs(c.ready)
}

// stop sends SIGTERM to every child still running, waits for them up to devStopGrace and
// kills what is left. It signals only the processes it started, by pid.
func (d *devRun) stop() {
	var running []*devChild
	for _, c := range d.children {
		if !c.proc.HasExited() {
			c.proc.Terminate()
			running = append(running, c)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), devStopGrace)
	defer cancel()
	for _, c := range running {
		select {
		case <-c.proc.Exited():
		case <-ctx.Done():
			for _, k := range running {
				if !k.proc.HasExited() {
					fmt.Fprintf(d.stderr, "tandem dev: %s (pid %d) did not stop within %v; killing it\n",
						k.spec.Name, k.proc.Pid(), devStopGrace)
					k.proc.Kill(context.Background())
				}
			}
		}
		fmt.Fprintf(d.stderr, "tandem dev: %s (pid %d) stopped\n", c.spec.Name, c.proc.Pid())
	}
}

// devChild is one region's `tandem serve` child process.
type devChild struct {
	region string
	tls    *devTLS // nil without TLS
	spec   nodeproc.Spec
	proc   *nodeproc.Process
	ready  nodeproc.Ready // once ready

	kafkaAddr, httpAddr string // once ready; the TLS Kafka listener with TLS
	amqpAddr            string // once ready: the plaintext AMQP listener, or "off"
}

// devSpec is region's `serve` with data in dir/region and stdout and stderr in dir/region.log;
// with tls, its Kafka listener is TLS only and its API HTTPS. AMQP is plaintext on amqpAddr
// either way (the SDKs' UseDevelopmentEmulator=true speaks no TLS).
func devSpec(exe, region, dir, kafkaAddr, httpAddr, amqpAddr string, tls *devTLS) nodeproc.Spec {
	l := tls.listen(kafkaAddr, httpAddr)
	l.AMQP = amqpAddr
	return nodeproc.Spec{Name: "region " + region, Exe: exe, Args: append([]string{"--region", region}, tls.serveArgs()...),
		DataDir: filepath.Join(dir, region), Listen: l, Log: filepath.Join(dir, region+".log")}
}

// startDevChild starts region's `serve` as spec says.
func startDevChild(region string, spec nodeproc.Spec, tls *devTLS) (*devChild, error) {
	if err := os.MkdirAll(spec.DataDir, 0o700); err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "creating the data directory of region %s: %w", region, err)
	}
	p, err := nodeproc.Start(spec)
	if errors.Is(err, nodeproc.ErrLog) {
		return nil, errcode.New(errcode.InvalidArgument, "%w", err)
	}
	if err != nil {
		return nil, errcode.New(errcode.Internal, "%w", err)
	}
	return &devChild{region: region, tls: tls, spec: spec, proc: p}, nil
}

// restart starts the child's region again, after it exited, on its data and ports. The log of
// the run that ended is kept as LOG.1 (starting truncates LOG).
func (c *devChild) restart() (*devChild, error) {
	if err := os.Rename(c.spec.Log, c.spec.Log+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, errcode.New(errcode.Internal, "keeping the log of %s: %w", c.spec.Name, err)
	}
	return startDevChild(c.region, c.restartSpec(), c.tls)
}

// childExitError is a child that exited while tandem dev needed it; an Unavailable error.
type childExitError struct{ err *errcode.Error }

func (e *childExitError) Error() string { return e.err.Error() }
func (e *childExitError) Unwrap() error { return e.err }

func (c *devChild) exitError() *childExitError {
	return &childExitError{errcode.New(errcode.Unavailable, "%w", c.proc.ExitError())}
}

// waitReady waits for the child's ready line.
func (c *devChild) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, devReadyTimeout, errcode.New(errcode.Timeout,
		"%s (pid %d) printed no ready line within %v; see its log %s", c.spec.Name, c.proc.Pid(), devReadyTimeout, c.spec.Log))
	defer cancel()
	r, err := c.proc.WaitReady(ctx)
	var exited *nodeproc.ExitError
	if errors.As(err, &exited) {
		return c.exitError()
	}
	if err != nil {
		return err
	}
	c.ready, c.kafkaAddr, c.httpAddr, c.amqpAddr = r, clientKafka(r), r.HTTP, r.AMQP
	return nil
}

// clientKafka is the Kafka listener clients use: with TLS the TLS listener.
func clientKafka(r nodeproc.Ready) string {
	if r.TLS {
		return r.KafkaTLS
	}
	return r.Kafka
}

// pid is the child's process id (0 for a child that was never started, as in tests of the
// summary).
func (c *devChild) pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid()
}

// adminKey reads the child's admin key.
func (c *devChild) adminKey() (string, error) {
	key, err := os.ReadFile(filepath.Join(c.spec.DataDir, "admin-key"))
	if err != nil {
		return "", errcode.New(errcode.Internal, "reading the admin key of region %s: %w", c.region, err)
	}
	return strings.TrimSpace(string(key)), nil
}

// devSide is one region as setting up sees it.
type devSide struct {
	child     *devChild
	namespace string
	key       string
	c         *client.Client
}

// devInfo is what setting up produced: what the summary prints.
type devInfo struct {
	dir        string
	tls        *devTLS // with --tls
	sides      [2]*devSide
	nodes      [2][]*devChild // with --nodes 3: each region's nodes; nil on single nodes
	active     int            // the side that holds the alias
	alias      client.Alias   // as the active side knows it
	connString string
	kcatConf   string
}

// setup waits for both regions, then creates (or finds) the namespaces, the alias and the
// sample hub, and writes kcat.conf.
func (d *devRun) setup(ctx context.Context) (*devInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, d.s.timeout)
	defer cancel()
	info := &devInfo{dir: d.s.dir, tls: d.tls}
	for i := range devRegions {
		c, key, cl, err := d.apiNode(ctx, i)
		if err != nil {
			return nil, err
		}
		if d.s.clustered() {
			info.nodes[i] = d.regionChildren(i)
		}
		side := &devSide{child: c, namespace: devRegions[i].namespace, key: key, c: cl}
		if err := d.ensureNamespace(ctx, side); err != nil {
			return nil, err
		}
		info.sides[i] = side
	}
	var err error
	if info.active, info.alias, err = d.ensureAlias(ctx, info.sides); err != nil {
		return nil, err
	}
	if err := d.ensureHub(ctx, info); err != nil {
		return nil, err
	}
	p := info.sides[info.active]
	keys, err := p.c.ListAliasKeys(ctx, p.namespace, devAlias, rootPolicy)
	if err != nil {
		return nil, fmt.Errorf("reading the keys of alias %s: %w", devAlias, err)
	}
	info.connString = keys.AliasPrimaryConnectionString
	info.kcatConf = filepath.Join(d.s.dir, "kcat.conf")
	if err := os.WriteFile(info.kcatConf, []byte(info.kcatProperties()), 0o600); err != nil {
		return nil, errcode.New(errcode.Internal, "writing %s: %w", info.kcatConf, err)
	}
	if err := writeRegionsFile(filepath.Join(d.s.dir, "regions.json"), info.regions()); err != nil {
		return nil, err
	}
	return info, nil
}

func (d *devRun) progress(format string, args ...any) {
	fmt.Fprintf(d.stderr, "tandem dev: "+format+"\n", args...)
}

func (d *devRun) ensureNamespace(ctx context.Context, s *devSide) error {
	_, err := s.c.GetNamespace(ctx, s.namespace)
	if !errcode.Is(err, errcode.NotFound) {
		return err
	}
	d.progress("creating namespace %s in region %s", s.namespace, s.child.region)
	_, err = s.c.CreateNamespace(ctx, s.namespace, client.NamespaceOptions{})
	return err
}

// ensureAlias finds or creates the alias on east, pairing it with west, and waits until it
// is provisioned. It returns the side that holds the alias (west after a failover) and that
// side's view of it.
func (d *devRun) ensureAlias(ctx context.Context, sides [2]*devSide) (int, client.Alias, error) {
	east, west := sides[0], sides[1]
	a, err := east.c.GetAlias(ctx, east.namespace, devAlias)
	if errcode.Is(err, errcode.NotFound) {
		if w, werr := west.c.GetAlias(ctx, west.namespace, devAlias); werr == nil && holdsAlias(w) {
			d.checkPartnerAddress(w, east) // failed over in an earlier run, and east's side is gone
			return 1, w, nil
		}
		d.progress("creating alias %s: primary %s in east, secondary %s in west", devAlias, east.namespace, west.namespace)
		a, err = east.c.CreateAlias(ctx, east.namespace, devAlias, client.AliasOptions{
			PartnerNamespace: west.namespace, PartnerEndpoint: west.child.url(), PartnerAdminKey: west.key})
	}
	if err != nil {
		return 0, a, fmt.Errorf("alias %s on namespace %s: %w", devAlias, east.namespace, err)
	}
	if !client.Provisioned(a) {
		d.progress("waiting for alias %s to be provisioned (%s)", devAlias, a.ProvisioningState)
		if a, err = east.c.WaitAlias(ctx, east.namespace, devAlias, client.Provisioned); err != nil {
			return 0, a, err
		}
	}
	if a.ProvisioningState == client.ProvisioningFailed {
		return 0, a, errcode.New(errcode.Conflict,
			"pairing alias %s failed: %s; stop tandem dev and remove %s to start afresh", devAlias, orDash(a.Reason), d.s.dir)
	}
	active := 0
	if !holdsAlias(a) || (a.ActiveRegion != "" && a.ActiveRegion != east.child.region) {
		if a, err = west.c.GetAlias(ctx, west.namespace, devAlias); err != nil {
			return 0, a, fmt.Errorf("alias %s is active in west, but asking west about it: %w", devAlias, err)
		}
		active = 1
	}
	d.checkPartnerAddress(a, sides[1-active])
	return active, a, nil
}

// checkPartnerAddress warns when the alias remembers the other region at an address it no
// longer listens at, as after a rerun with --http-port 0: the regions record each other's
// addresses when they pair.
func (d *devRun) checkPartnerAddress(a client.Alias, other *devSide) {
	if want := other.child.url(); a.PartnerEndpoint != "" && a.PartnerEndpoint != want {
		d.progress("warning: alias %s remembers region %s at %s, but it listens at %s now; replication and the Kafka "+
			"metadata answers of the alias may point at the old addresses. Use fixed ports (the default) with an existing "+
			"--dir, or remove %s to start afresh", devAlias, other.child.region, a.PartnerEndpoint, want, d.s.dir)
	}
}

// holdsAlias reports whether this side of an alias serves alias clients.
func holdsAlias(a client.Alias) bool {
	return !a.Lost && (a.Role == client.RolePrimary || a.Role == client.RolePrimaryNotReplicating)
}

// ensureHub creates the sample hub on the side that holds the alias and, while paired, waits
// until the secondary has it.
func (d *devRun) ensureHub(ctx context.Context, info *devInfo) error {
	p, sec := info.sides[info.active], info.sides[1-info.active]
	_, err := p.c.GetHub(ctx, p.namespace, devHub)
	if errcode.Is(err, errcode.NotFound) {
		d.progress("creating event hub %s/%s (%d partitions)", p.namespace, devHub, devHubParts)
		_, err = p.c.CreateHub(ctx, p.namespace, devHub, client.HubOptions{Partitions: devHubParts})
	}
	if err != nil || !info.alias.Paired() {
		return err
	}
	ns := info.alias.PartnerNamespace
	d.progress("waiting for event hub %s to reach the secondary %s in %s", devHub, ns, sec.child.region)
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		_, err := sec.c.GetHub(ctx, ns, devHub)
		if err == nil {
			return nil
		}
		if !errcode.Is(err, errcode.NotFound) && !errcode.Is(err, errcode.Unavailable) {
			return fmt.Errorf("looking for event hub %s on the secondary: %w", devHub, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errcode.New(errcode.Timeout,
				"event hub %s/%s did not reach the secondary %s in region %s within --timeout %v (%v); see 'tandem alias show' and %s",
				p.namespace, devHub, ns, sec.child.region, d.s.timeout, context.Cause(ctx), sec.child.spec.Log)
		case <-t.C:
		}
	}
}

// url is the child's API, http:// or https://.
func (c *devChild) url() string { return c.tls.scheme() + "://" + c.httpAddr }

// kcatCALine is kcat.conf's ssl.ca.location line, "" without TLS.
func (info *devInfo) kcatCALine() string {
	if info.tls == nil {
		return ""
	}
	return "ssl.ca.location=" + info.tls.caFile + "\n"
}

// bootstrap is the Kafka bootstrap list of both regions (every node of each), east first.
func (info *devInfo) bootstrap() string {
	var addrs []string
	for i := range info.sides {
		for _, c := range info.regionNodes(i) {
			addrs = append(addrs, c.kafkaAddr)
		}
	}
	return strings.Join(addrs, ",")
}

// regions is the regions file (regions.json) that --regions NAME,NAME reads.
func (info *devInfo) regions() regionsFile {
	var f regionsFile
	for i, s := range info.sides {
		c := s.child
		dataDir, _ := filepath.Abs(c.spec.DataDir)
		if info.nodes[i] != nil {
			dataDir = filepath.Dir(dataDir) // the region's directory, which holds the shared admin key
		}
		f.Regions = append(f.Regions, regionEntry{Name: c.region, Server: c.url(), Kafka: c.kafkaAddr,
			AdminKeyFile: filepath.Join(dataDir, "admin-key"), Namespace: s.namespace, DataDir: dataDir, CAFile: c.tls.ca(),
			Nodes: info.regionNodesFile(i)})
	}
	return f
}

// kcatProperties is kcat.conf: librdkafka properties for 'kcat -F'.
func (info *devInfo) kcatProperties() string {
	return "# Written by tandem dev: librdkafka properties for 'kcat -F " + info.kcatConf + "'.\n" +
		"bootstrap.servers=" + info.bootstrap() + "\n" +
		"security.protocol=" + info.tls.securityProtocol() + "\n" + info.kcatCALine() +
		"sasl.mechanisms=PLAIN\n" +
		"sasl.username=$ConnectionString\n" +
		"sasl.password=" + info.connString + "\n"
}

// print writes the summary; its last line is the one scripts wait for.
func (info *devInfo) print(w io.Writer) error {
	p := info.sides[info.active]
	var b strings.Builder
	if info.nodes[0] != nil {
		fmt.Fprintf(&b, "Tandem dev: two regions of %d nodes each on 127.0.0.1, data in %s\n\n", len(info.nodes[0]), info.dir)
		printTable(&b, []string{"REGION", "NAMESPACE", "NODE", "ZONE", "KAFKA", "HTTP", "AMQP", "PID", "LOG"}, info.clusterRows())
	} else {
		fmt.Fprintf(&b, "Tandem dev: two regions on 127.0.0.1, data in %s\n\n", info.dir)
		rows := [][]string{}
		for _, s := range info.sides {
			c := s.child
			rows = append(rows, []string{c.region, s.namespace, c.kafkaAddr, c.url(), orDash(c.amqpAddr),
				fmt.Sprint(c.pid()), c.spec.Log})
		}
		printTable(&b, []string{"REGION", "NAMESPACE", "KAFKA", "HTTP", "AMQP", "PID", "LOG"}, rows)
	}
	if info.tls != nil {
		fmt.Fprintf(&b, "\nTLS: Kafka is SASL_SSL only and the API HTTPS; clients trust the dev CA %s\n", info.tls.caFile)
	}
	a := info.alias
	fmt.Fprintf(&b, "\nAlias %s: active in %s (namespace %s), role %s, %s, epoch %d", devAlias,
		p.child.region, p.namespace, a.Role, a.ProvisioningState, a.Epoch)
	if a.Paired() {
		fmt.Fprintf(&b, ", secondary %s in %s\n", a.PartnerNamespace, orDash(a.PartnerRegion))
	} else {
		fmt.Fprintf(&b, ", not paired\n")
	}
	fmt.Fprintf(&b, "Event hub: %s (%d partitions)\n", devHub, devHubParts)
	fmt.Fprintf(&b, "\nAlias connection string (the SASL PLAIN password of user $ConnectionString):\n  %s\n", info.connString)
	fmt.Fprintf(&b, "\nKafka bootstrap, both regions (metadata answers the active one):\n  %s\n", info.bootstrap())
	sasl := "-X security.protocol=" + info.tls.securityProtocol() + info.tls.kcatTLSArgs() +
		" -X sasl.mechanisms=PLAIN -X " + shellQuote("sasl.username=$ConnectionString") +
		" -X " + shellQuote("sasl.password="+info.connString)
	fmt.Fprintf(&b, "\nProduce and consume with kcat:\n")
	fmt.Fprintf(&b, "  kcat -b %s %s -t %s -P\n", info.bootstrap(), sasl, devHub)
	fmt.Fprintf(&b, "  kcat -b %s %s -t %s -C -o beginning -e\n", info.bootstrap(), sasl, devHub)
	fmt.Fprintf(&b, "or with the properties in %s:\n", info.kcatConf)
	fmt.Fprintf(&b, "  kcat -F %s -t %s -P\n", shellQuote(info.kcatConf), devHub)
	fmt.Fprintf(&b, "  kcat -F %s -t %s -C -o beginning -e\n", shellQuote(info.kcatConf), devHub)
	if cs := info.amqpConnString(); cs != "" {
		fmt.Fprintf(&b, "\nAzure Event Hubs SDKs (AMQP, region %s; event hub %s):\n  %s\n", p.child.region, devHub, cs)
	}
	east, west := info.sides[0], info.sides[1]
	eastDir, westDir := east.child.spec.DataDir, west.child.spec.DataDir
	if info.nodes[0] != nil {
		eastDir, westDir = filepath.Dir(eastDir), filepath.Dir(westDir) // the regions' directories hold the admin keys
	}
	fmt.Fprintf(&b, "\nThe CLI (each region's admin key is read from its data directory):\n")
	fmt.Fprintf(&b, "  tandem --server %s --data %s%s alias show %s/%s\n", east.child.url(), shellQuote(eastDir), info.tls.cliCAArgs(), east.namespace, devAlias)
	fmt.Fprintf(&b, "  tandem --server %s --data %s%s alias fail-over %s/%s\n", west.child.url(), shellQuote(westDir), info.tls.cliCAArgs(), west.namespace, devAlias)
	if info.nodes[0] != nil {
		fmt.Fprintf(&b, "  tandem --server %s --data %s%s cluster status\n", east.child.url(), shellQuote(eastDir), info.tls.cliCAArgs())
		fmt.Fprintf(&b, "  tandem --server %s --data %s%s hub show %s/%s\n", east.child.url(), shellQuote(eastDir), info.tls.cliCAArgs(), east.namespace, devHub)
	}
	fmt.Fprintf(&b, "\nRegions by name for --regions east,west (tandem send, job deploy, drill): %s\n", filepath.Join(info.dir, "regions.json"))
	fmt.Fprintf(&b, "\nCtrl-C stops both regions.\n")
	fmt.Fprintf(&b, "tandem dev ready alias=%s bootstrap=%s east=%s west=%s", devAlias, info.bootstrap(), east.child.httpAddr, west.child.httpAddr)
	if info.tls != nil {
		fmt.Fprintf(&b, " ca=%s", info.tls.caFile)
	}
	if info.nodes[0] != nil {
		fmt.Fprintf(&b, " nodes=%d", len(info.nodes[0]))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
