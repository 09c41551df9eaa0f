package log

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/tandem-streaming/tandem/internal/batch"
)

const crashDirEnv = "TANDEM_LOG_CRASH_CHILD_DIR"

// TestCrashChild is the child of TestCrashKill9: it appends with FsyncAlways forever and prints
// each acknowledged batch as "ack <id> <base>". It does nothing when run normally.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKill9")
	}
	l, err := Open(Options{Dir: dir, SegmentBytes: 32 << 10, Fsync: FsyncPolicy{Mode: FsyncAlways}, Logger: quiet})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for id := 0; ; id++ {
		base, _, err := l.Append(crashBatch(id), -1)
		if err != nil {
			fmt.Println("append:", err)
			os.Exit(1)
		}
		fmt.Printf("ack %d %d\n", id, base) // os.Stdout is unbuffered
	}
}

func crashBatch(id int) []byte { return mkBatch(id, 1+id%4, 100+id%300, int64(id)) }

// TestCrashKill9 kills a real appending process with SIGKILL after it acknowledged some
// batches, then checks that every acknowledged batch survived with identical bytes, in order,
// once, and that the log accepts appends at the right offset.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int]int64{} // id -> base offset
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 300 {
		var id int
		var base int64
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &id, &base); err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		acked[id] = base
	}
	_ = cmd.Process.Kill() // SIGKILL, mid-append
	_ = cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child stopped after %d acks", len(acked))
	}

	l := openLog(t, Options{Dir: dir, SegmentBytes: 32 << 10})
	seen := map[int]bool{}
	for _, b := range allBatches(t, l) { // allBatches checks offsets are contiguous
		id := batchID(t, b)
		if seen[id] {
			t.Fatalf("batch %d appears twice", id)
		}
		seen[id] = true
		if base, ok := acked[id]; ok {
			want := crashBatch(id)
			batch.SetBaseOffset(want, base)
			if !bytes.Equal(b, want) {
				t.Fatalf("acknowledged batch %d differs after the crash", id)
			}
		}
	}
	for id := range acked {
		if !seen[id] {
			t.Fatalf("acknowledged batch %d is missing after the crash", id)
		}
	}
	end := l.EndOffset()
	if base, _ := mustAppend(t, l, mkBatch(1<<20, 1, 10, 1), -1); base != end {
		t.Fatalf("append after recovery got offset %d, want %d", base, end)
	}
}
