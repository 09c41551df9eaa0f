package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// fakeAliasAPI answers the alias routes as the server contract describes them, with one
// alias whose properties the test sets.
type fakeAliasAPI struct {
	mu    sync.Mutex
	props map[string]any
	paths []string
}

func (f *fakeAliasAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/checkNameAvailability"):
		var in struct{ Name string }
		json.Unmarshal(body, &in)
		switch in.Name {
		case "taken-alias":
			io.WriteString(w, `{"nameAvailable":false,"reason":"AlreadyExists","message":"the name taken-alias is used by a namespace"}`)
		case "x":
			io.WriteString(w, `{"nameAvailable":false,"reason":"InvalidName","message":"alias name \"x\" is invalid; use 6 to 50 letters"}`)
		default:
			io.WriteString(w, `{"nameAvailable":true,"reason":"None"}`)
		}
	case strings.HasSuffix(r.URL.Path, "/listKeys"):
		io.WriteString(w, `{"keyName":"RootManageSharedAccessKey","primaryKey":"k1","secondaryKey":"k2",
			"aliasPrimaryConnectionString":"Endpoint=sb://shop/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k1",
			"aliasSecondaryConnectionString":"Endpoint=sb://shop/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k2"}`)
	case strings.HasSuffix(r.URL.Path, "/disasterRecoveryConfigs"):
		json.NewEncoder(w).Encode(map[string]any{"value": []any{map[string]any{"name": "shop", "properties": f.props}}})
	default:
		json.NewEncoder(w).Encode(map[string]any{"name": "shop", "properties": f.props})
	}
}

func (f *fakeAliasAPI) lastRequest() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[len(f.paths)-1]
}

// runCLI runs one CLI command line against url and returns its output and error.
func runCLI(url string, args ...string) (string, error) {
	root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
	addClientFlags(root)
	addCLICommands(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--server", url, "--admin-key", "k"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCLIAlias(t *testing.T) {
	f := &fakeAliasAPI{props: map[string]any{"namespace": "shop-eu1", "region": "east", "role": "Primary",
		"provisioningState": "Succeeded", "partnerNamespace": "shop-eu2", "partnerRegion": "west",
		"partnerEndpoint": "http://127.0.0.1:8180", "epoch": 1, "activeRegion": "east", "activeNamespace": "shop-eu1",
		"pendingReplicationOperationsCount": 2, "replicationLagSeconds": 0.25, "partnerReachable": true}}
	srv := httptest.NewServer(f)
	defer srv.Close()

	out, err := runCLI(srv.URL, "alias", "show", "shop-eu1/shop")
	for _, want := range []string{"Primary", "shop-eu2 in west (http://127.0.0.1:8180)", "shop-eu1 in east", "250ms"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("alias show: %v, output lacks %q:\n%s", err, want, out)
		}
	}
	out, err = runCLI(srv.URL, "-o", "json", "alias", "list", "shop-eu1")
	var as []client.Alias
	if err != nil || json.Unmarshal([]byte(out), &as) != nil || len(as) != 1 || as[0].PendingReplicationOperations != 2 {
		t.Fatalf("alias list -o json: %v\n%s", err, out)
	}

	out, err = runCLI(srv.URL, "alias", "exists", "shop-eu1/fresh-alias")
	if err != nil || !strings.Contains(out, "alias name fresh-alias is available on namespace shop-eu1") {
		t.Fatalf("alias exists of a free name: %v\n%s", err, out)
	}
	_, err = runCLI(srv.URL, "alias", "exists", "shop-eu1/taken-alias")
	if !errcode.Is(err, errcode.AlreadyExists) || errcode.ExitCode(err) == 0 || !strings.Contains(err.Error(), "used by a namespace") {
		t.Fatalf("alias exists of a taken name: %v", err)
	}
	_, err = runCLI(srv.URL, "alias", "exists", "shop-eu1/x")
	if !errcode.Is(err, errcode.InvalidArgument) || strings.Count(err.Error(), "invalid") != 1 {
		t.Fatalf("alias exists of an invalid name: %v", err)
	}

	out, err = runCLI(srv.URL, "alias", "connection-string", "shop-eu1/shop", "--secondary")
	if err != nil || out != "Endpoint=sb://shop/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k2\n" {
		t.Fatalf("alias connection-string --secondary: %v\n%q", err, out)
	}
	if !strings.HasSuffix(f.lastRequest(), "/disasterRecoveryConfigs/shop/authorizationRules/RootManageSharedAccessKey/listKeys ") {
		t.Fatalf("alias connection-string asked %s", f.lastRequest())
	}

	out, err = runCLI(srv.URL, "alias", "create", "shop-eu1/shop", "--partner-endpoint", "http://127.0.0.1:8180",
		"--partner-connection-string", "Endpoint=sb://shop-eu2.example.com/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abc", "--wait")
	if err != nil || !strings.Contains(out, "Succeeded") || !strings.Contains(f.lastRequest(), `"partnerNamespace":"shop-eu2"`) {
		t.Fatalf("alias create: %v\n%s\n%v", err, out, f.paths)
	}

	f.mu.Lock()
	f.props["provisioningState"], f.props["reason"] = "Failed", "secondary namespace shop-eu2 has 3 event hubs"
	f.mu.Unlock()
	_, err = runCLI(srv.URL, "alias", "create", "shop-eu1/shop", "--partner-endpoint", "http://127.0.0.1:8180",
		"--partner-namespace", "shop-eu2", "--partner-admin-key", "pk", "--wait")
	if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), "has 3 event hubs") {
		t.Fatalf("alias create that Failed: %v", err)
	}
}

func TestCLIAliasFailover(t *testing.T) {
	props := map[string]any{"namespace": "shop-eu2", "region": "west", "role": "PrimaryNotReplicating",
		"provisioningState": "Succeeded", "partnerNamespace": "shop-eu1", "partnerRegion": "east", "epoch": 2,
		"activeRegion": "west", "activeNamespace": "shop-eu2", "formerPrimaryNotified": false}
	f := &fakeAliasAPI{props: props}
	srv := httptest.NewServer(f)
	defer srv.Close()
	out, err := runCLI(srv.URL, "alias", "fail-over", "shop-eu2/shop")
	if err != nil || !strings.Contains(out, "served by namespace shop-eu2 in region west (epoch 2)") ||
		!strings.Contains(out, "the former primary shop-eu1 in east could not be reached") {
		t.Fatalf("alias fail-over: %v\n%s", err, out)
	}
	if !strings.HasPrefix(f.lastRequest(), "POST /namespaces/shop-eu2/disasterRecoveryConfigs/shop/failover") {
		t.Fatalf("alias fail-over asked %s", f.lastRequest())
	}
	f.mu.Lock()
	props["formerPrimaryNotified"] = true
	f.mu.Unlock()
	out, err = runCLI(srv.URL, "-o", "json", "alias", "fail-over", "shop-eu2/shop")
	var a client.Alias
	if err != nil || json.Unmarshal([]byte(out), &a) != nil || !a.FormerPrimaryNotified || a.Epoch != 2 {
		t.Fatalf("alias fail-over -o json: %v\n%s", err, out)
	}
}

func TestCLIAliasArgs(t *testing.T) {
	url := "http://127.0.0.1:1" // nothing listens: every case must fail before a request
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"alias", "show", "shop-eu1"}, "NS/ALIAS expected"},
		{[]string{"alias", "list"}, "expects NS"},
		{[]string{"alias", "create", "ns/al", "--partner-namespace", "n2", "--partner-admin-key", "k"}, "--partner-endpoint is missing"},
		{[]string{"alias", "create", "ns/al", "--partner-endpoint", "127.0.0.1:8180", "--partner-admin-key", "k"}, "not an HTTP URL"},
		{[]string{"alias", "create", "ns/al", "--partner-endpoint", "http://h:1", "--partner-namespace", "n2"}, "needs a credential"},
		{[]string{"alias", "create", "ns/al", "--partner-endpoint", "http://h:1", "--partner-namespace", "n2",
			"--partner-admin-key", "k", "--partner-connection-string", "Endpoint=sb://n2/;SharedAccessKeyName=r;SharedAccessKey=k"}, "give one"},
		{[]string{"alias", "create", "ns/al", "--partner-endpoint", "http://h:1", "--partner-admin-key", "k"}, "--partner-namespace is missing"},
		{[]string{"alias", "create", "ns/al", "--partner-endpoint", "http://h:1", "--partner-namespace", "other",
			"--partner-connection-string", "Endpoint=sb://n2/;SharedAccessKeyName=r;SharedAccessKey=k"}, `for namespace "n2"`},
		{[]string{"alias", "create", "ns/al", "--partner-endpoint", "http://h:1", "--partner-connection-string", "junk"}, "--partner-connection-string"},
	} {
		t.Setenv("TANDEM_PARTNER_ADMIN_KEY", "")
		_, err := runCLI(url, tc.args...)
		if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tandem %s: %v, want InvalidArgument mentioning %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestDevSettings(t *testing.T) {
	ok := devSettings{dir: "d", kafkaPort: 9092, httpPort: 8080, timeout: 1}
	if err := ok.check(); err != nil {
		t.Fatal(err)
	}
	if got := ok.listenAddr(ok.kafkaPort, 1); got != "127.0.0.1:9192" {
		t.Errorf("west's Kafka address = %s", got)
	}
	if got := (devSettings{}).listenAddr(0, 1); got != "127.0.0.1:0" {
		t.Errorf("port 0 for west = %s", got)
	}
	for _, bad := range []devSettings{
		{dir: "d", kafkaPort: 65500, httpPort: 8080, timeout: 1},
		{dir: "d", kafkaPort: -1, httpPort: 8080, timeout: 1},
		{dir: "d", kafkaPort: 8080, httpPort: 8080, timeout: 1},
		{dir: "", kafkaPort: 9092, httpPort: 8080, timeout: 1},
		{dir: "d", kafkaPort: 9092, httpPort: 8080},
	} {
		if err := bad.check(); !errcode.Is(err, errcode.InvalidArgument) {
			t.Errorf("check(%+v) = %v", bad, err)
		}
	}
}

func TestDevSummary(t *testing.T) {
	mk := func(region, kafka, http string) *devSide {
		c := &devChild{region: region, kafkaAddr: kafka, httpAddr: http, amqpAddr: "127.0.0.1:5672",
			spec: nodeproc.Spec{DataDir: "td/" + region, Log: "td/" + region + ".log"}}
		return &devSide{child: c, namespace: "tandem-" + region}
	}
	info := &devInfo{dir: "td", kcatConf: "td/kcat.conf",
		sides: [2]*devSide{mk("east", "127.0.0.1:9092", "127.0.0.1:8080"), mk("west", "127.0.0.1:9192", "127.0.0.1:8180")},
		alias: client.Alias{Name: "tandem-dev", Role: "Primary", ProvisioningState: "Succeeded", Epoch: 1,
			PartnerNamespace: "tandem-west", PartnerRegion: "west"},
		connString: "Endpoint=sb://tandem-dev/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=a+b/c="}
	var out bytes.Buffer
	if err := info.print(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "tandem dev ready alias=tandem-dev bootstrap=127.0.0.1:9092,127.0.0.1:9192 east=127.0.0.1:8080 west=127.0.0.1:8180" {
		t.Errorf("last line = %q", last)
	}
	for _, want := range []string{
		"-X 'sasl.username=$ConnectionString' -X 'sasl.password=" + info.connString + "' -t sample -P",
		"kcat -F td/kcat.conf -t sample -C -o beginning -e",
		"secondary tandem-west in west",
		"td/west.log",
		"Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=a+b/c=;UseDevelopmentEmulator=true",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	props := info.kcatProperties()
	for _, want := range []string{"bootstrap.servers=127.0.0.1:9092,127.0.0.1:9192\n", "sasl.username=$ConnectionString\n",
		"sasl.password=" + info.connString + "\n", "security.protocol=SASL_PLAINTEXT\n", "sasl.mechanisms=PLAIN\n"} {
		if !strings.Contains(props, want) {
			t.Errorf("kcat.conf lacks %q:\n%s", want, props)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"td/kcat.conf": "td/kcat.conf", "a b": "'a b'", "$x": "'$x'", "it's": `'it'\''s'`, "": "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
