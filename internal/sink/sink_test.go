package sink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// The contract every sink keeps, tested on each: after any replay of batches in total order the
// output holds each row exactly once, HighWater is the last row, and ReadAfter pages through it.

func TestEmptySink(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		s := open(t, k.url(t, "out"), "out")
		if pos, ok := highWater(t, s); ok {
			t.Fatalf("HighWater of an empty sink = %v, true; want false", pos)
		}
		write(t, s, nil)
		got, err := s.ReadAfter(context.Background(), Beginning, 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("ReadAfter on an empty sink = %d rows, %v; want none", len(got), err)
		}
	})
}

func TestExactlyOnceUnderReplay(t *testing.T) {
	type batch struct{ from, to int }
	tests := []struct {
		name    string
		batches []batch
	}{
		{"disjoint batches", []batch{{0, 100}, {100, 200}}},
		{"overlapping replays", []batch{{0, 100}, {50, 150}, {0, 150}, {120, 200}}},
		{"the whole output twice", []batch{{0, 200}, {0, 200}}},
		{"replay of a suffix only", []batch{{0, 200}, {199, 200}, {150, 200}}},
		{"one row at a time, each twice", func() []batch {
			var bs []batch
			for i := 0; i < 40; i++ {
				bs = append(bs, batch{i, i + 1}, batch{i, i + 1})
			}
			return bs
		}()},
	}
	forEachKind(t, func(t *testing.T, k kind) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := k.url(t, "out")
				s := open(t, u, "out")
				end := 0
				for _, b := range tc.batches {
					write(t, s, rows(b.from, b.to))
					end = max(end, b.to)
					if pos, ok := highWater(t, s); !ok || pos != row(end-1).Pos() {
						t.Fatalf("after writing [%d,%d): HighWater = %v, %v; want %v", b.from, b.to, pos, ok, row(end-1).Pos())
					}
				}
				checkRowsEqual(t, readAll(t, s, 1000), rows(0, end), k.exactBytes)
				s.Close()
				// What a restarted job sees.
				s = open(t, u, "out")
				if pos, ok := highWater(t, s); !ok || pos != row(end-1).Pos() {
					t.Fatalf("after reopening: HighWater = %v, %v; want %v", pos, ok, row(end-1).Pos())
				}
				checkRowsEqual(t, readAll(t, s, 1000), rows(0, end), k.exactBytes)
			})
		}
	})
}

func TestReadAfterPages(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		s := open(t, k.url(t, "out"), "out")
		const n = 103
		write(t, s, rows(0, n))
		for _, limit := range []int{1, 7, 50, 1000} {
			checkRowsEqual(t, readAll(t, s, limit), rows(0, n), k.exactBytes)
		}
		ctx := context.Background()
		tests := []struct {
			name  string
			after Position
			want  []Row
		}{
			{"after a stored row", row(41).Pos(), rows(42, 52)},
			{"between two keys of one time", Position{row(41).Time, "aa"}, rows(42, 52)},
			{"before all keys of a time", Position{row(40).Time, ""}, rows(40, 50)},
			{"after the last row", row(n - 1).Pos(), nil},
			{"from the zero position (1970)", Position{}, rows(0, 10)},
		}
		for _, tc := range tests {
			got, err := s.ReadAfter(ctx, tc.after, 10)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			checkRowsEqual(t, got, tc.want, k.exactBytes)
		}
		if got, err := s.ReadAfter(ctx, Beginning, 0); err != nil || len(got) != 0 {
			t.Fatalf("ReadAfter with limit 0 = %d rows, %v; want none", len(got), err)
		}
	})
}

func TestRepeatWithOtherBytes(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		u := k.url(t, "out")
		s := open(t, u, "out")
		write(t, s, rows(0, 10))
		changed := row(5)
		changed.Data = []byte(`{"n":5,"Replaced":true}`)
		write(t, s, []Row{changed, row(6)})
		want := rows(0, 10)
		if k.upserts {
			want[5] = changed // the SQL sinks upsert
		} // the file sink skips rows at or below its high water mark: the first copy stays
		checkRowsEqual(t, readAll(t, s, 4), want, k.exactBytes)
		s.Close()
		checkRowsEqual(t, readAll(t, open(t, u, "out"), 4), want, k.exactBytes)
	})
}

func TestExtremeTimes(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		s := open(t, k.url(t, "out"), "out")
		want := []Row{
			{Time: MinTime, Key: "first", Data: []byte(`{}`)},
			{Time: TimeTicks(time.Date(1969, 12, 31, 23, 59, 59, 999999900, time.UTC)), Key: "k", Data: []byte(`{"a":1}`)},
			{Time: 0, Key: "", Data: []byte(`{"epoch":true}`)},
			{Time: 1, Key: "tab\there \"quoted\" \\ ünï", Data: []byte(`{"s":"line\nbreak"}`)},
			{Time: MaxTime, Key: "last", Data: []byte(`{"z":null}`)},
		}
		write(t, s, want)
		checkRowsEqual(t, readAll(t, s, 2), want, k.exactBytes)
		if pos, _ := highWater(t, s); pos != want[len(want)-1].Pos() {
			t.Fatalf("HighWater = %v, want %v", pos, want[len(want)-1].Pos())
		}
	})
}

func TestRejectsBadBatches(t *testing.T) {
	good := rows(0, 3)
	tests := []struct {
		name string
		bad  Row
		want string
	}{
		{"out of order", row(0), "strictly increasing"},
		{"a duplicate in the batch", row(2), "strictly increasing"},
		{"not JSON", Row{Time: row(3).Time, Key: "x", Data: []byte(`{"a":`)}, "not one JSON object"},
		{"a JSON array", Row{Time: row(3).Time, Key: "x", Data: []byte(`[1,2]`)}, "not one JSON object"},
		{"two objects", Row{Time: row(3).Time, Key: "x", Data: []byte(`{} {}`)}, "not one JSON object"},
		{"a key that is not UTF-8", Row{Time: row(3).Time, Key: "\xff", Data: []byte(`{}`)}, "not valid UTF-8"},
		{"a key with NUL", Row{Time: row(3).Time, Key: "a\x00", Data: []byte(`{}`)}, "contains NUL"},
		{"a time after year 9999", Row{Time: MaxTime + 1, Key: "x", Data: []byte(`{}`)}, "outside years 0001-9999"},
	}
	forEachKind(t, func(t *testing.T, k kind) {
		s := open(t, k.url(t, "out"), "out")
		for _, tc := range tests {
			err := s.Write(context.Background(), append(append([]Row(nil), good...), tc.bad))
			if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: Write = %v; want an InvalidArgument error saying %q", tc.name, err, tc.want)
			}
		}
		if pos, ok := highWater(t, s); ok {
			t.Fatalf("rejected batches stored rows: HighWater = %v", pos)
		}
	})
}

func TestClosedSinkSaysSo(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		s := open(t, k.url(t, "out"), "out")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), rows(0, 1)); err == nil {
			t.Fatal("Write after Close succeeded")
		}
	})
}

// TestReadersSeeAPrefix reads while another goroutine writes (and the file sink rotates): every
// read is a prefix of the output, since each Write is atomic and in order.
func TestReadersSeeAPrefix(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		u := k.url(t, "out")
		if k.name == "file" {
			u += "?rotate_bytes=3000"
		}
		s := open(t, u, "out")
		const n = 600
		done := make(chan error, 1)
		go func() {
			for i := 0; i < n; i += 20 {
				if err := s.Write(context.Background(), rows(max(i-5, 0), i+20)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for finished := false; !finished; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				finished = true
			default:
			}
			got := readAll(t, s, 97)
			checkRowsEqual(t, got, rows(0, len(got)), k.exactBytes)
		}
		checkRowsEqual(t, readAll(t, s, 97), rows(0, n), k.exactBytes)
	})
}
