package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A frame is one log entry on disk:
//
//	[u32 payload length][u32 crc32c of index+payload][u64 index][payload]
//
// all big-endian. Segment files meta-<first index>.log hold consecutive frames; a snapshot file
// snap-<index>.json holds exactly one frame whose payload is the snapshot JSON.
const (
	frameHeader     = 16
	maxFramePayload = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendFrame(buf []byte, index uint64, payload []byte) []byte {
	var h [frameHeader]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint64(h[8:16], index)
	crc := crc32.Update(crc32.Checksum(h[8:16], castagnoli), castagnoli, payload)
	binary.BigEndian.PutUint32(h[4:8], crc)
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// scanFrames calls fn for each valid frame of data in order. It returns the length of the valid
// prefix and, when it stopped before the end of data, why (a torn or corrupt frame). An error
// from fn stops the scan and is returned.
func scanFrames(data []byte, fn func(index uint64, payload []byte) error) (valid int, torn string, err error) {
	for off := 0; off < len(data); {
		rest := data[off:]
		if len(rest) < frameHeader {
			return off, fmt.Sprintf("%d bytes of a frame header at byte %d", len(rest), off), nil
		}
		n := binary.BigEndian.Uint32(rest[0:4])
		if n == 0 || n > maxFramePayload {
			return off, fmt.Sprintf("frame length %d at byte %d", n, off), nil
		}
		if uint64(len(rest)) < frameHeader+uint64(n) {
			return off, fmt.Sprintf("frame at byte %d needs %d bytes, %d remain", off, frameHeader+n, len(rest)), nil
		}
		payload := rest[frameHeader : frameHeader+n]
		crc := crc32.Update(crc32.Checksum(rest[8:16], castagnoli), castagnoli, payload)
		if crc != binary.BigEndian.Uint32(rest[4:8]) {
			return off, fmt.Sprintf("checksum mismatch in frame at byte %d", off), nil
		}
		if err := fn(binary.BigEndian.Uint64(rest[8:16]), payload); err != nil {
			return off, "", err
		}
		off += frameHeader + int(n)
	}
	return len(data), "", nil
}

// segment is one log file and the index of its first entry.
type segment struct {
	first uint64
	path  string
}

const (
	segPrefix  = "meta-"
	segSuffix  = ".log"
	snapPrefix = "snap-"
	snapSuffix = ".json"
	tmpSuffix  = ".tmp"
)

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", segPrefix, first, segSuffix))
}

func snapshotPath(dir string, index uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", snapPrefix, index, snapSuffix))
}

// listNumbered returns the files of dir named prefix<number>suffix, sorted by number.
func listNumbered(dir, prefix, suffix string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []segment
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, prefix), suffix), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, segment{first: n, path: filepath.Join(dir, name)})
	}
	slices.SortFunc(out, func(a, b segment) int {
		return cmpUint(a.first, b.first)
	})
	return out, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Modes of the metadata files: the log and snapshots hold every policy key and geo-DR link key,
// so they are private to the node's user from their first open.
const (
	filePerm os.FileMode = 0o600
	dirPerm  os.FileMode = 0o700
)

// writeFileAtomic writes data to path through a temporary file: write, fsync, rename, fsync dir.
// The temporary file is created 0600 by its first open (a leftover one is removed, not reused).
func writeFileAtomic(path string, data []byte) error {
	tmp := path + tmpSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// pathless returns err without the file path an *fs.PathError carries ("write: no space left on
// device"): store errors can reach clients, which must not learn the node's paths. The path
// goes to the server log instead.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
