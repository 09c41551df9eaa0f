package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

const crashChildEnv = "TANDEM_SPOOL_CRASH_CHILD_DIR"

// crashChild is the child process of TestCrashKill9: it appends batches of test records forever,
// acknowledging some now and then, and prints "app <last>" after each Append returned and
// "ack <seq>" after each Ack returned. os.Stdout is unbuffered, so a line printed is a line the
// parent can read.
func crashChild(dir string) {
	s, err := Open(dir, Options{SegmentBytes: 8 << 10})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for seq, batch := uint64(1), 0; ; batch++ {
		recs := make([][]byte, 1+batch%5)
		for i := range recs {
			recs[i] = payload(seq + uint64(i))
		}
		_, last, err := s.Append(recs)
		if err != nil {
			fmt.Println("append:", err)
			os.Exit(1)
		}
		fmt.Printf("app %d\n", last)
		seq = last + 1
		if batch%40 == 39 && last > 100 {
			if err := s.Ack(last - 100); err != nil {
				fmt.Println("ack:", err)
				os.Exit(1)
			}
			fmt.Printf("ack %d\n", last-100)
		}
	}
}

// TestCrashKill9 kills a real appending process with SIGKILL, then checks that every record it
// was told is durable survived, in order, with contiguous seqs, and that no record it was told
// is acknowledged came back.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var appended, acked uint64
	sc := bufio.NewScanner(out)
	for appended < 3000 && sc.Scan() {
		var n uint64
		if _, err := fmt.Sscanf(sc.Text(), "app %d", &n); err == nil {
			appended = n
		} else if _, err := fmt.Sscanf(sc.Text(), "ack %d", &n); err == nil {
			acked = n
		} else {
			t.Fatalf("child said %q", sc.Text())
		}
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL) // mid-append, most likely
	_ = cmd.Wait()
	if appended < 3000 {
		t.Fatalf("child stopped after record %d", appended)
	}

	s := openSpool(t, dir, Options{SegmentBytes: 8 << 10})
	recs := peekAll(t, s)
	if len(recs) == 0 {
		t.Fatalf("no records survived; the child reported %d appended and %d acknowledged", appended, acked)
	}
	from, to := recs[0].Seq, recs[len(recs)-1].Seq
	if from-1 < acked {
		t.Fatalf("record %d came back, but the child acknowledged up to %d", from, acked)
	}
	if to < appended {
		t.Fatalf("records %d..%d were reported durable but are lost (%d survived)", to+1, appended, to)
	}
	checkRecords(t, recs, from, to)
	if !endsBatch(to) {
		t.Fatalf("record %d survived, but the rest of its Append did not: a torn Append must go whole", to)
	}
	checkHeld(t, s, from, to)
	fill(t, s, to+1, to+3, 3)
	t.Logf("child reported %d appended, %d acked; %d..%d survived", appended, acked, from, to)
}

// endsBatch reports whether seq is the last record of one of crashChild's Appends.
func endsBatch(seq uint64) bool {
	end := uint64(0)
	for batch := uint64(0); end < seq; batch++ {
		end += 1 + batch%5
	}
	return end == seq
}
