package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/sink"
)

// TestOutputFollowStopsOnSIGINT runs `tandem output follow` as a process: it prints the row the
// primary holds, and on SIGINT it stops with exit status 0 and its state file holds the
// position of that row, so the next follow continues after it.
func TestOutputFollowStopsOnSIGINT(t *testing.T) {
	dir := t.TempDir()
	primary, secondary := "sqlite://"+filepath.Join(dir, "east.db"), "sqlite://"+filepath.Join(dir, "west.db")
	ctx := context.Background()
	s, err := sink.Open(ctx, primary, "counts")
	if err != nil {
		t.Fatal(err)
	}
	row := sink.Row{Time: sink.TimeTicks(time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)), Key: "0123456789abcdef0123456789abcdef", Data: []byte(`{"n":1}`)}
	if err := s.Write(ctx, []sink.Row{row}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// follow refuses an output that does not exist: the secondary is there, empty.
	s2, err := sink.Open(ctx, secondary, "counts")
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	state := filepath.Join(dir, "reader.pos")
	cmd := exec.Command(tandemBin, "output", "follow", "--primary", primary, "--secondary", secondary, "--output", "counts", "--state", state)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		werr := cmd.Wait() // stderr is complete (and no longer written) once the process is waited for
		t.Fatalf("follow printed no row: %v (exit: %v)\n%s", err, werr, stderr.String())
	}
	var got struct {
		Key    string `json:"key"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal([]byte(line), &got); err != nil || got.Key != row.Key || got.Source != "primary" {
		t.Fatalf("follow printed %q (%v)", line, err)
	}
	// The row is printed after the signal handler is in place: SIGINT now is a clean stop.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("follow after SIGINT: %v, want exit status 0\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), row.Key) {
		t.Fatalf("state file after SIGINT: %q, %v; want the position of the row printed", b, err)
	}
}
