package spool

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// lastSegment is the path of the newest segment file in dir.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	files := segFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("no segment files")
	}
	return files[len(files)-1]
}

// recordOff is the offset of test record seq in a segment whose first record is first.
func recordOff(first, seq uint64) int64 {
	var off int64
	for s := first; s < seq; s++ {
		off += frameLen(len(payload(s)))
	}
	return off
}

func appendFile(t testing.TB, name string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t testing.TB, name string, off int64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x55
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTornTail damages the end of the last segment as a crash mid-Append can, and checks that
// Open drops the torn Append whole, keeps every earlier record, and goes on appending.
func TestTornTail(t *testing.T) {
	end := recordOff(1, 21) // records 1..20, in Appends of 4
	rec20 := recordOff(1, 20)
	for _, tc := range []struct {
		name     string
		damage   func(t testing.TB, name string)
		wantLast uint64
	}{
		{"garbage appended", func(t testing.TB, name string) {
			rng := rand.New(rand.NewPCG(1, 2))
			garbage := make([]byte, 37)
			for i := range garbage {
				garbage[i] = byte(rng.Uint32())
			}
			appendFile(t, name, garbage)
		}, 20},
		{"zeros appended", func(t testing.TB, name string) { appendFile(t, name, make([]byte, 100)) }, 20},
		{"record of the next seq with a bad CRC", func(t testing.TB, name string) {
			b := putRecord(nil, 21, true, payload(21))
			b[len(b)-1] ^= 1
			appendFile(t, name, b)
		}, 20},
		{"last record cut in half", func(t testing.TB, name string) {
			must(t, os.Truncate(name, (rec20+end)/2))
		}, 16},
		{"cut inside the last header", func(t testing.TB, name string) { must(t, os.Truncate(name, rec20+5)) }, 16},
		{"bad CRC of the last record", func(t testing.TB, name string) { flipByte(t, name, end-1) }, 16},
		{"Append missing its last record", func(t testing.TB, name string) { must(t, os.Truncate(name, rec20)) }, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openSpool(t, dir, Options{})
			fill(t, s, 1, 20, 4)
			must(t, s.Close())
			tc.damage(t, lastSegment(t, dir))

			s = openSpool(t, dir, Options{})
			checkRecords(t, peekAll(t, s), 1, tc.wantLast)
			checkHeld(t, s, 1, tc.wantLast)
			fill(t, s, tc.wantLast+1, tc.wantLast+5, 2)
			must(t, s.Close())

			s = openSpool(t, dir, Options{})
			checkRecords(t, peekAll(t, s), 1, tc.wantLast+5)
		})
	}
}

// TestDamageNotAtTail checks that Open refuses damage a crash cannot cause, naming the file and
// the byte.
func TestDamageNotAtTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t testing.TB, dir string, files []string)
		says   []string
	}{
		{"middle of a segment that is not the last", func(t testing.TB, dir string, files []string) {
			info, err := os.Stat(files[1])
			must(t, err)
			flipByte(t, files[1], info.Size()/2)
		}, []string{"not the last segment", "byte "}},
		{"end of a segment that is not the last", func(t testing.TB, dir string, files []string) {
			info, err := os.Stat(files[0])
			must(t, err)
			must(t, os.Truncate(files[0], info.Size()-3))
		}, []string{"not the last segment", "byte "}},
		{"middle of the last segment", func(t testing.TB, dir string, files []string) {
			last := files[len(files)-1]
			flipByte(t, last, headerLen+2) // the first record's payload; later Appends are whole
		}, []string{"whole Append written after it is intact", "byte 0"}},
		{"a missing segment", func(t testing.TB, dir string, files []string) {
			must(t, os.Remove(files[1]))
		}, []string{"misses records"}},
		{"a damaged head", func(t testing.TB, dir string, files []string) {
			must(t, os.WriteFile(filepath.Join(dir, headName), []byte("nonsense"), 0o644))
		}, []string{"head file", "delete it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openSpool(t, dir, Options{SegmentBytes: 1 << 10})
			fill(t, s, 1, 60, 3)
			must(t, s.Close())
			files := segFiles(t, dir)
			if len(files) < 3 {
				t.Fatalf("only %d segment files", len(files))
			}
			tc.damage(t, dir, files)
			_, err := Open(dir, Options{SegmentBytes: 1 << 10})
			wantCode(t, err, errcode.CorruptData, tc.says...)
			t.Log(err)
		})
	}
}

// TestSegmentsRoll checks that small segments roll, that Ack deletes the ones it finished, and
// that Len and Bytes survive a reopen.
func TestSegmentsRoll(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: 1 << 10}
	s := openSpool(t, dir, o)
	fill(t, s, 1, 300, 5)
	before := len(segFiles(t, dir))
	if before < 20 {
		t.Fatalf("300 records made only %d segments of 1 KiB", before)
	}
	must(t, s.Ack(200))
	after := len(segFiles(t, dir))
	if after >= before/2 {
		t.Fatalf("Ack of 2/3 of the records left %d of %d segment files", after, before)
	}
	checkHeld(t, s, 201, 300)
	must(t, s.Close())

	s = openSpool(t, dir, o)
	checkHeld(t, s, 201, 300)
	checkRecords(t, peekAll(t, s), 201, 300)
	must(t, s.Ack(300))
	if files := segFiles(t, dir); len(files) != 0 {
		t.Fatalf("every record acknowledged, yet %d segment files are left", len(files))
	}
	fill(t, s, 301, 310, 4)
	must(t, s.Close())
	s = openSpool(t, dir, o)
	checkRecords(t, peekAll(t, s), 301, 310)
}

// TestAckCrashBeforeDelete puts back the segment files an Ack deleted, as a crash between writing
// the head and deleting them leaves them, and checks that Open finishes the job.
func TestAckCrashBeforeDelete(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: 1 << 10}
	s := openSpool(t, dir, o)
	fill(t, s, 1, 100, 5)
	saved := map[string][]byte{}
	for _, name := range segFiles(t, dir) {
		b, err := os.ReadFile(name)
		must(t, err)
		saved[name] = b
	}
	must(t, s.Ack(70))
	must(t, s.Close())
	for name, b := range saved {
		if _, err := os.Stat(name); os.IsNotExist(err) {
			must(t, os.WriteFile(name, b, 0o644))
		}
	}
	s = openSpool(t, dir, o)
	checkHeld(t, s, 71, 100)
	checkRecords(t, peekAll(t, s), 71, 100)
	if got := len(segFiles(t, dir)); got >= len(saved) {
		t.Fatalf("Open left %d of %d segment files", got, len(saved))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
