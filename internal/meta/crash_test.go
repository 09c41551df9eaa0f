package meta

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const crashChildEnv = "TANDEM_META_CRASH_CHILD_DIR"

// crashChild runs in a child process: it proposes commands from several goroutines forever and
// prints "ack <index> <hub>" for each acknowledged one, until the parent kills it.
func crashChild(dir string) {
	s, err := Open(StoreOptions{Dir: dir, SnapshotEvery: 37, Logger: quietLogger()})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	start := s.Index() // names hubs apart from earlier runs on the same directory
	if start == 0 {
		for _, c := range baseCommands() {
			if _, err := s.Propose(ctx, c); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for w := 0; ; w++ {
		if w < 4 {
			go func() {
				for i := 0; ; i++ {
					hub := fmt.Sprintf("r%d-w%d-%d", start, w, i)
					idx, err := s.Propose(ctx, CreateHub{Namespace: ns, Hub: hub})
					mu.Lock()
					if err != nil {
						fmt.Fprintln(out, "error", err)
					} else {
						fmt.Fprintln(out, "ack", idx, hub)
					}
					out.Flush()
					mu.Unlock()
				}
			}()
			continue
		}
		select {} // wait for SIGKILL
	}
}

func TestKill9LosesNoAcknowledgedCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	for round := 0; round < 3; round++ { // each round restarts on the previous round's log
		acked := runAndKill(t, dir, 150)
		s := openStore(t, dir, 37)
		s.View(func(st *State) {
			for idx, hub := range acked {
				if st.Index() < idx {
					t.Fatalf("round %d: acknowledged index %d but recovered only to %d", round, idx, st.Index())
				}
				if _, err := st.Hub(ns, hub); err != nil {
					t.Fatalf("round %d: acknowledged command %d (hub %s) lost: %v", round, idx, hub, err)
				}
			}
		})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill starts the child on dir, reads acks until it has n, kills it with SIGKILL and
// returns the acknowledged indexes and hubs.
func runAndKill(t *testing.T, dir string, n int) map[uint64]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{}
	sc := bufio.NewScanner(stdout)
	for len(acked) < n && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child: %s", sc.Text())
		}
		idx, _ := strconv.ParseUint(f[1], 10, 64)
		acked[idx] = f[2]
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < n {
		t.Fatalf("child stopped after %d acks: %v", len(acked), sc.Err())
	}
	return acked
}
