package sink

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const (
	crashURLEnv  = "TANDEM_SINK_CRASH_URL"
	crashFromEnv = "TANDEM_SINK_CRASH_FROM"
)

// crashBatch is the rows the child writes in one Write; each batch repeats the last 20 rows of
// the one before, as a job does after restarting from a checkpoint between them.
const crashBatch = 50

// TestCrashChild is the child of TestCrashKill9: from row FROM on it writes batches forever and
// prints "ack <end>" after each Write returns. It does nothing when run normally.
func TestCrashChild(t *testing.T) {
	u := os.Getenv(crashURLEnv)
	if u == "" {
		t.Skip("runs only as the child of TestCrashKill9")
	}
	from, _ := strconv.Atoi(os.Getenv(crashFromEnv))
	ctx := context.Background()
	s, err := Open(ctx, u, "out")
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for end := from + crashBatch; ; end += crashBatch {
		if err := s.Write(ctx, rows(max(end-crashBatch-20, 0), end)); err != nil {
			fmt.Println("write:", err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", end) // os.Stdout is unbuffered
	}
}

// runChild starts TestCrashChild writing to u from row from, kills it with SIGKILL once it has
// acknowledged acks batches, and returns the end of the last acknowledged batch.
func runChild(t *testing.T, u string, from, acks int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashURLEnv+"="+u, crashFromEnv+"="+strconv.Itoa(from))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked, n := 0, 0
	sc := bufio.NewScanner(out)
	for n < acks && sc.Scan() {
		line := sc.Text()
		if end, ok := strings.CutPrefix(line, "ack "); ok {
			acked, _ = strconv.Atoi(end)
			n++
		} else if strings.HasPrefix(line, "open:") || strings.HasPrefix(line, "write:") {
			t.Errorf("child: %s", line)
		}
	}
	cmd.Process.Kill() // SIGKILL, mid-write more often than not
	for sc.Scan() {    // acknowledgements already on their way still count
		if end, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked, _ = strconv.Atoi(end)
		}
	}
	cmd.Wait()
	if n < acks {
		t.Fatalf("the child stopped after %d acknowledged writes", n)
	}
	return acked
}

// TestCrashKill9 kills a process writing a sink, several times, and checks after each crash
// that every acknowledged row is there, the output is a prefix of the total order with each row
// once, and the job's replay from before the crash completes it exactly once.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachKind(t, func(t *testing.T, k kind) {
		u := k.url(t, "out")
		if k.name == "file" {
			u += "?rotate_bytes=20000" // rotate every few batches, so kills land in rotations too
		}
		checkpoint := 0
		for round := 0; round < 4; round++ {
			acked := runChild(t, u, checkpoint, 15+round*5)
			if k.name == "postgres" {
				pgEndSessions(t, u)
			}
			s := open(t, u, "out")
			got := readAll(t, s, 2000)
			if len(got) < acked {
				t.Fatalf("round %d: %d rows acknowledged but %d stored", round, acked, len(got))
			}
			checkRowsEqual(t, got, rows(0, len(got)), k.exactBytes)
			if pos, ok := highWater(t, s); !ok || pos != got[len(got)-1].Pos() {
				t.Fatalf("round %d: HighWater = %v, %v; want %v", round, pos, ok, got[len(got)-1].Pos())
			}
			// The job restarts from a checkpoint some way before what it had acknowledged.
			checkpoint = max(acked-3*crashBatch, 0)
			end := max(len(got), acked+crashBatch)
			write(t, s, rows(checkpoint, end))
			checkRowsEqual(t, readAll(t, s, 2000), rows(0, end), k.exactBytes)
			s.Close()
		}
	})
}

// pgEndSessions ends the killed child's server session and waits until it is gone. A server
// finishes a transaction whose client died if it had the whole of it, and it may commit just
// after the child is dead; waiting for the session makes the stored output stop changing.
func pgEndSessions(t *testing.T, sinkURL string) {
	t.Helper()
	u, err := url.Parse(sinkURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("table")
	u.RawQuery = q.Encode()
	pgExec(t, u.String(), `SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
}
