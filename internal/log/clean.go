package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
)

// A clean close leaves the active segment's index files and a clean-close mark, as Kafka's
// .kafka_cleanshutdown does: the next Open then loads the active segment from its indexes and
// checks only the bytes after the last index entry, instead of reading and CRC-checking the
// whole segment (up to SegmentBytes). Open removes the mark, durably, before the log can take
// an append, so a mark is only ever there while the active segment is exactly as the close
// left it; it also names the segment and its size, and anything else is a full scan.
const cleanFile = "clean-close"

// cleanCloseMinBytes is the smallest active segment a close writes the mark for: a smaller
// one is cheaper to scan than the index files are to write. A variable for tests.
var cleanCloseMinBytes int64 = 1 << 20

// cleanMark encoding: magic "TCLN" | base u64 | size u64 | crc32c u32.
const cleanMarkSize = 4 + 8 + 8 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type cleanMark struct{ base, size int64 }

func (m cleanMark) encode() []byte {
	b := make([]byte, 0, cleanMarkSize)
	b = append(b, "TCLN"...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.base))
	b = binary.BigEndian.AppendUint64(b, uint64(m.size))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCleanMark(b []byte) (cleanMark, bool) {
	if len(b) != cleanMarkSize || string(b[:4]) != "TCLN" ||
		crc32.Checksum(b[:cleanMarkSize-4], castagnoli) != binary.BigEndian.Uint32(b[cleanMarkSize-4:]) {
		return cleanMark{}, false
	}
	return cleanMark{base: int64(binary.BigEndian.Uint64(b[4:])), size: int64(binary.BigEndian.Uint64(b[12:]))}, true
}

// writeCleanMarkLocked writes the active segment's index files and then the mark, after the
// close's final fsync. The caller holds appendMu; a failure only costs the next open a scan.
func (l *Log) writeCleanMarkLocked() {
	l.mu.RLock()
	seg, failed := l.mu.segs[len(l.mu.segs)-1], l.mu.failed
	size := seg.size
	var idx, tidx []byte
	if failed == nil && size >= cleanCloseMinBytes {
		idx, tidx = seg.encodeIndexes()
	}
	l.mu.RUnlock()
	if idx == nil {
		return
	}
	err := writeFileAtomic(l.fs, segmentName(l.opts.Dir, seg.base, indexSuffix), idx, filePerm)
	if err == nil {
		err = writeFileAtomic(l.fs, segmentName(l.opts.Dir, seg.base, timeIndexSuffix), tidx, filePerm)
	}
	if err == nil {
		err = WriteFileDurable(l.fs, filepath.Join(l.opts.Dir, cleanFile), cleanMark{seg.base, size}.encode())
	}
	if err != nil {
		l.log.Warn("writing the clean-close mark failed; the next open scans the active segment", "err", err)
	}
}

// takeCleanMark reads and durably removes the clean-close mark; ok is false without a whole
// one. An error means the mark could not be removed, and the log must not open.
func (l *Log) takeCleanMark() (m cleanMark, ok bool, err error) {
	name := filepath.Join(l.opts.Dir, cleanFile)
	data, rerr := readWholeFile(l.fs, name)
	switch {
	case isNotExist(rerr):
		return cleanMark{}, false, nil
	case rerr != nil:
		l.log.Warn("reading the clean-close mark failed; scanning the active segment", "err", rerr)
	default:
		if m, ok = decodeCleanMark(data); !ok {
			l.log.Warn("ignoring a damaged clean-close mark; scanning the active segment")
		}
	}
	if err := l.fs.Remove(name); err != nil && !isNotExist(err) {
		return cleanMark{}, false, fmt.Errorf("remove the clean-close mark of %s: %w", l.opts.Name, pathless(err))
	}
	if err := l.fs.SyncDir(l.opts.Dir); err != nil {
		return cleanMark{}, false, fmt.Errorf("sync the directory of %s: %w", l.opts.Name, pathless(err))
	}
	return m, ok, nil
}
