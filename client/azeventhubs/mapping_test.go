package tandemcheckpoints

import (
	"testing"
)

func sp(s string) *string { return &s }
func ip(v int64) *int64   { return &v }

// TestCheckpointMapping: the SDK's last processed event ↔ Tandem's next offset, both ways.
func TestCheckpointMapping(t *testing.T) {
	for _, c := range []struct {
		name       string
		seq        *int64
		offset     *string
		next       int64
		err        bool
		backSeq    int64
		backOffset *string
	}{
		{"both", ip(41), sp("41"), 42, false, 41, sp("41")},
		{"sequence number only", ip(7), nil, 8, false, 7, nil},
		{"offset only", nil, sp("5"), 6, false, 5, sp("5")},
		{"nothing processed yet", ip(-1), sp("-1"), 0, false, -1, sp("-1")},
		{"an offset string kept verbatim", ip(3), sp("00003"), 4, false, 3, sp("00003")},
		{"a non-numeric offset without a sequence number", nil, sp("abc"), 0, true, 0, nil},
		{"neither", nil, nil, 0, true, 0, nil},
		{"before the first event", ip(-2), nil, 0, true, 0, nil},
	} {
		next, meta, err := toTandem(c.seq, c.offset)
		if (err != nil) != c.err {
			t.Fatalf("%s: error %v, want error %v", c.name, err, c.err)
		}
		if err != nil {
			continue
		}
		if next != c.next {
			t.Fatalf("%s: next offset %d, want %d", c.name, next, c.next)
		}
		seq, off := fromTandem(next, meta)
		if seq != c.backSeq || (off == nil) != (c.backOffset == nil) || (off != nil && *off != *c.backOffset) {
			t.Fatalf("%s: read back seq %d offset %v, want %d %v", c.name, seq, off, c.backSeq, c.backOffset)
		}
	}
	// Checkpoints other clients wrote (Kafka, the HTTP API): offset = sequence number.
	for _, meta := range []string{"", "kafka metadata", `{"sdk":"other","offset":"x"}`} {
		if seq, off := fromTandem(10, meta); seq != 9 || off == nil || *off != "9" {
			t.Fatalf("metadata %q: seq %d offset %v, want 9 \"9\"", meta, seq, off)
		}
	}
}

func TestNames(t *testing.T) {
	if groupName("$default") != "$Default" || groupName("$DEFAULT") != "$Default" || groupName("billing") != "billing" {
		t.Fatal("group names")
	}
	for _, id := range []string{"", "x", "-1", "1.5", "99999999999"} {
		if _, err := partition(id); err == nil {
			t.Fatalf("partition id %q accepted", id)
		}
	}
	if p, err := partition("7"); err != nil || p != 7 {
		t.Fatalf("partition 7: %d %v", p, err)
	}
	if _, err := NewCheckpointStore(nil, "default"); err == nil {
		t.Fatal("a nil client was accepted")
	}
}
