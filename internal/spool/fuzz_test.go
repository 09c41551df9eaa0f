package spool

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the segment decoder (the scanner Open and Peek use) and to
// the search for intact records after damage. Neither may panic, and every record the scanner
// returns must be inside the input, carry the next seq, and match its CRC.
func FuzzDecode(f *testing.F) {
	var seg []byte
	for seq := uint64(1); seq <= 6; seq++ {
		seg = putRecord(seg, seq, seq%3 == 0, payload(seq))
	}
	f.Add(seg, uint64(1))
	f.Add(seg[:len(seg)-7], uint64(1))
	f.Add(seg[:20], uint64(1))
	f.Add(seg, uint64(2))
	f.Add(append(bytes.Clone(seg), make([]byte, 40)...), uint64(1))
	f.Add(putRecord(nil, 1<<40, true, nil), uint64(1<<40))
	f.Add([]byte{}, uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, first uint64) {
		first &= seqMask
		sc := newScanner(bytes.NewReader(data), int64(len(data)), 0, first)
		off, want := int64(0), first
		for fr, ok := sc.scan(); ok; fr, ok = sc.scan() {
			checkFrame(t, data, fr, off, want)
			off, want = fr.off+frameLen(len(fr.payload)), want+1
		}
		if sc.err != nil {
			t.Fatalf("reading from memory failed: %v", sc.err)
		}
		if sc.off != off || (sc.bad == "") != (off == int64(len(data))) {
			t.Fatalf("scan stopped at %d (%q) after records up to %d of %d bytes", sc.off, sc.bad, off, len(data))
		}
		if sc.bad != "" {
			if _, err := committedAfter(bytes.NewReader(data), sc.off, int64(len(data)), sc.next); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// checkFrame checks a record the scanner returned against the bytes it came from.
func checkFrame(t *testing.T, data []byte, fr frame, off int64, want uint64) {
	t.Helper()
	end := off + frameLen(len(fr.payload))
	if fr.off != off || end > int64(len(data)) || fr.seq != want {
		t.Fatalf("record at %d (want %d) of %d bytes, seq %d (want %d), in %d bytes", fr.off, off, len(fr.payload), fr.seq, want, len(data))
	}
	rec := data[off:end]
	if int(binary.LittleEndian.Uint32(rec)) != len(fr.payload) || !bytes.Equal(rec[headerLen:], fr.payload) {
		t.Fatalf("record %d: length or payload differ from the input", fr.seq)
	}
	if binary.LittleEndian.Uint64(rec[8:])&seqMask != fr.seq || (rec[15]&0x80 != 0) != fr.end {
		t.Fatalf("record %d: seq field or end mark differ from the input", fr.seq)
	}
	if got := crc32.Checksum(rec[8:], crc32.MakeTable(crc32.Castagnoli)); got != binary.LittleEndian.Uint32(rec[4:]) {
		t.Fatalf("record %d returned with CRC %08x stored, %08x computed", fr.seq, binary.LittleEndian.Uint32(rec[4:]), got)
	}
}
