package nodeproc

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRegionPrepare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "east")
	r := Region{Name: "east", Exe: "/bin/tandem", Dir: dir, Nodes: 3, KafkaPort: 9092, HTTPPort: 8080, RaftPort: 7001, AMQPPort: 5672,
		Args: []string{"--dev"}}
	specs, err := r.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 {
		t.Fatalf("%d specs", len(specs))
	}
	members := "1=a@127.0.0.1:7001/east-a,2=b@127.0.0.1:7002/east-b,3=c@127.0.0.1:7003/east-c"
	for i, s := range specs {
		k := i + 1
		want := []string{"/bin/tandem", "serve", "--region", "east", "--node-id", fmt.Sprint(k), "--zone", Zone(k),
			"--cluster", members, "--cluster-secret-file", filepath.Join(dir, "cluster-secret"),
			"--admin-key-file", filepath.Join(dir, "admin-key"), "--dev",
			"--data", filepath.Join(dir, fmt.Sprintf("node-%d", k)),
			"--kafka-addr", fmt.Sprintf("127.0.0.1:%d", 9092+i), "--http-addr", fmt.Sprintf("127.0.0.1:%d", 8080+i),
			"--amqp-addr", fmt.Sprintf("127.0.0.1:%d", 5672+i)}
		if got := s.Command(); !slices.Equal(got, want) {
			t.Errorf("node %d:\n got %q\nwant %q", k, got, want)
		}
		if s.Log != filepath.Join(dir, fmt.Sprintf("node-%d.log", k)) || s.Name != "node east-"+Zone(k) {
			t.Errorf("node %d: log %s, name %s", k, s.Log, s.Name)
		}
	}
	var first []string
	for _, f := range []string{r.SecretFile(), r.AdminKeyFile()} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", f, st.Mode().Perm())
		}
		b, _ := os.ReadFile(f)
		if len(strings.TrimSpace(string(b))) < 32 {
			t.Errorf("%s holds %q", f, b)
		}
		first = append(first, string(b))
	}
	if first[0] == first[1] {
		t.Error("the secret and the admin key are the same")
	}
	// A second Prepare keeps the files; free raft ports differ per node.
	r.RaftPort = 0
	specs, err = r.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{r.SecretFile(), r.AdminKeyFile()} {
		if b, _ := os.ReadFile(f); string(b) != first[i] {
			t.Errorf("%s changed on the second Prepare", f)
		}
	}
	cl := specs[0].Args[slices.Index(specs[0].Args, "--cluster")+1]
	if strings.Count(cl, "@127.0.0.1:") != 3 || strings.Contains(cl, ":0/") {
		t.Errorf("--cluster %s", cl)
	}
	// A key file others can read is refused.
	os.Chmod(r.AdminKeyFile(), 0o644)
	if _, err := r.Prepare(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Prepare with a readable admin key: %v", err)
	}
}

// Free ports handed out by one process are all different, even when the OS offers a port
// again after its probe closed (two regions of tandem dev --nodes 3 --raft-port 0 once got the
// same raft port for their second nodes).
func TestFreeAddrNeverRepeats(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		a, err := freeAddr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[a] {
			t.Fatalf("freeAddr handed out %s twice", a)
		}
		seen[a] = true
	}
}
