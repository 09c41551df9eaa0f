package meta

import "testing"

// The tail keeps at most about tailBytes: large job checkpoints push the oldest entries out
// (they are read from the log), small commands are bounded by count, and the newest entry
// always stays.
func TestEntryTailBoundedByBytes(t *testing.T) {
	var tail entryTail
	big := make([]byte, 4<<20)
	for i := uint64(1); i <= 100; i++ {
		tail.add([]Entry{{Index: i, Command: SaveJobCheckpoint{Name: "j", Data: big}}})
	}
	if tail.bytes > tailBytes {
		t.Fatalf("tail holds %d bytes, more than %d", tail.bytes, tailBytes)
	}
	if n := len(tail.entries); n == 0 || n > tailBytes/(4<<20) || tail.entries[n-1].Index != 100 {
		t.Fatalf("tail holds %d entries ending at %d", n, tail.entries[n-1].Index)
	}
	if _, ok := tail.read(1, 100, 0); ok {
		t.Fatal("the tail claims to reach back to entry 2 after the big entries pushed it out")
	}
	got, ok := tail.read(99, 100, 0)
	if !ok || len(got) != 1 || got[0].Index != 100 {
		t.Fatalf("read after 99: %v %v", got, ok)
	}
	var small entryTail
	for i := uint64(1); i <= 3*tailSize; i++ {
		small.add([]Entry{{Index: i, Command: DeleteHub{Namespace: "ns", Hub: "h"}}})
	}
	if n := len(small.entries); n > 2*tailSize || small.bytes != n*256 {
		t.Fatalf("small tail: %d entries, %d bytes", n, small.bytes)
	}
}
