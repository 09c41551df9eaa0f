package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/batch"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// ProducerSnapshotFile is the name of a single-node partition's producer snapshot in its log
// directory: the idempotent-producer state as of one offset, as Kafka keeps in its
// <offset>.snapshot files, so that opening the partition replays only the batch headers
// after that offset instead of the whole log. Replicated partitions keep the same state in
// their replica checkpoint (replicated.go) instead.
const ProducerSnapshotFile = "producers.snapshot"

// producerSnapshot encoding:
//
//	magic "TPSN" | version u8 | offset i64 | m u32 | m × producer | crc32c u32
//
// with producer as in replicaState (repentry.go). offset is the log offset the state is
// exact at: it reflects every batch below offset and none at or above it.
const (
	snapMagic     = "TPSN"
	snapVersion   = 1
	snapFixedSize = 4 + 1 + 8
)

func encodeProducerSnapshot(offset int64, recs []producerRecord) []byte {
	b := make([]byte, 0, snapFixedSize+4+len(recs)*(stateProducerSize+stateSeqSize)+stateCRCSize)
	b = append(b, snapMagic...)
	b = append(b, snapVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = appendProducers(b, recs)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoliTable))
}

func decodeProducerSnapshot(b []byte) (int64, []producerRecord, error) {
	if len(b) < snapFixedSize+4+stateCRCSize || string(b[:4]) != snapMagic {
		return 0, nil, fmt.Errorf("not a producer snapshot (%d bytes)", len(b))
	}
	body := b[:len(b)-stateCRCSize]
	if crc32.Checksum(body, castagnoliTable) != binary.BigEndian.Uint32(b[len(body):]) {
		return 0, nil, errors.New("producer snapshot fails its CRC")
	}
	if b[4] != snapVersion {
		return 0, nil, fmt.Errorf("producer snapshot has version %d; this node knows %d", b[4], snapVersion)
	}
	offset := int64(binary.BigEndian.Uint64(b[5:]))
	if offset < 0 {
		return 0, nil, fmt.Errorf("producer snapshot at negative offset %d", offset)
	}
	recs, err := decodeProducers(body[snapFixedSize:], offset)
	if err != nil {
		return 0, nil, fmt.Errorf("producer snapshot: %w", err)
	}
	return offset, recs, nil
}

// producerSnapshots writes and reads one partition's producer snapshot. A nil
// *producerSnapshots (a replicated partition) does nothing.
type producerSnapshots struct {
	fs   seglog.FS
	path string
	log  *slog.Logger
}

func newProducerSnapshots(fsys seglog.FS, dir string, logger *slog.Logger) *producerSnapshots {
	if fsys == nil {
		fsys = seglog.OSFS{}
	}
	return &producerSnapshots{fs: fsys, path: filepath.Join(dir, ProducerSnapshotFile), log: logger}
}

// write durably replaces the snapshot with the state m at offset, reporting whether it did.
// A failure is logged and otherwise ignored: the snapshot only shortens the next open, whose full scan stays correct.
func (s *producerSnapshots) write(offset int64, m map[int64]*producerState) bool {
	if s == nil {
		return false
	}
	if err := seglog.WriteFileDurable(s.fs, s.path, encodeProducerSnapshot(offset, producerRecords(m))); err != nil {
		s.log.Warn("writing the producer snapshot failed; the next open scans the log from the previous one", "offset", offset, "err", err)
		return false
	}
	return true
}

// load returns the snapshot's state and offset if the snapshot exists, is whole and matches
// l: its offset lies in [start, end] of the recovered log and is a batch boundary there. A
// snapshot ahead of a log that lost its tail (a crash, a restored backup), or behind the log's
// start, is not trusted: ok is false and the caller scans the whole log.
func (s *producerSnapshots) load(l *seglog.Log) (offset int64, recs []producerRecord, ok bool) {
	if s == nil {
		return 0, nil, false
	}
	data, err := readFile(s.fs, s.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, false
	}
	if err == nil {
		offset, recs, err = decodeProducerSnapshot(data)
	}
	if err != nil {
		s.log.Warn("ignoring the producer snapshot; scanning the whole log", "err", err)
		return 0, nil, false
	}
	start, end := l.StartOffset(), l.EndOffset()
	if offset < start || offset > end {
		s.log.Warn("ignoring a producer snapshot outside the log; scanning the whole log",
			"snapshot_offset", offset, "log_start", start, "log_end", end)
		return 0, nil, false
	}
	if offset < end {
		boundary := false
		err := l.ScanHeaders(offset, func(h batch.Header) bool { boundary = h.BaseOffset == offset; return false })
		if err != nil || !boundary {
			s.log.Warn("ignoring a producer snapshot that is not at a batch boundary of the log; scanning the whole log",
				"snapshot_offset", offset, "err", err)
			return 0, nil, false
		}
	}
	return offset, recs, true
}
