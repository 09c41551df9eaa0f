package broker

import "testing"

// A read asks the log for what the events wanted take at the size of the records read so far:
// an AMQP receiver's credit of 150 events of 1 KiB must not read 1 MiB per call.
func TestReadSize(t *testing.T) {
	for _, c := range []struct {
		events, stored, records, want int
	}{
		{150, 0, 0, 150 << 10},              // before the first read: 1 KiB per record
		{150, 110_000, 100, 150 * 1101},     // batches of 100 records of about 1.1 KiB
		{10, 110_000, 100, 64 << 10},        // at least 64 KiB
		{5000, 110_000, 100, 1 << 20},       // at most 1 MiB
		{1000, 100 << 10, 10_000, 64 << 10}, // small records
		{1, 8 << 20, 1, 1 << 20},            // one huge record: the log returns its batch anyway
	} {
		if got := readSize(c.events, c.stored, c.records); got != c.want {
			t.Errorf("readSize(%d, %d, %d) = %d, want %d", c.events, c.stored, c.records, got, c.want)
		}
	}
}
