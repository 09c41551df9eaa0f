package e2e

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// TestAuditM5_RealNodeSecretsPrivate: after a real node ran (a hub written to, producer ids
// handed out), the data directory and the files that hold secrets or tenant data are private
// to the node's user; a restart with the admin key made readable by others is refused with the
// command that fixes it.
func TestAuditM5_RealNodeSecretsPrivate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	n := startNode(t, data, "--dev")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.DefaultProduceTopic("private"),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n.cli(t, "", "hub", "create", "default/private")
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("secret event")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	n.stop()

	if st, err := os.Stat(data); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v %v, want mode 0700", st.Mode(), err)
	}
	checked := 0
	for _, name := range []string{"admin-key", "producer-ids", "meta", "hubs"} {
		err := filepath.WalkDir(filepath.Join(data, name), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if info.Mode().Perm() != want {
				t.Errorf("%s has mode %#o, want %#o", path, info.Mode().Perm(), want)
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 8 {
		t.Fatalf("only %d files and directories checked", checked)
	}

	key := filepath.Join(data, "admin-key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	run, cancelRun := context.WithTimeout(context.Background(), time.Minute)
	defer cancelRun()
	p, err := nodeproc.Start(nodeproc.Spec{Name: "tandem serve", Exe: tandemBin, DataDir: data, Listen: nodeproc.Loopback(),
		Log: filepath.Join(t.TempDir(), "serve.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(run)
	_, err = p.WaitReady(run)
	out := p.Logs()
	var exited *nodeproc.ExitError
	if !errors.As(err, &exited) || exited.Err == nil || !strings.Contains(out, "chmod 600 "+key) || strings.Contains(out, "tandem ready") {
		t.Fatalf("start with a world-readable admin key: %v\n%s\nwant a refusal naming chmod 600 %s", err, out, key)
	}
}
