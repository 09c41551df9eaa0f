package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/log"
)

// The head file holds the last acknowledged sequence number: 8 bytes little-endian, then the
// CRC-32C of those 8 bytes, 4 bytes little-endian. It is replaced atomically and durably.
const (
	headName = "head"
	headLen  = 12
)

// readHead returns the last acknowledged sequence number of the spool in dir; 0 when there is no
// head file yet.
func readHead(dir string) (uint64, error) {
	name := filepath.Join(dir, headName)
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, ioError(dir, "reading the head file", err)
	}
	if len(b) != headLen || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, errcode.New(errcode.CorruptData,
			"spool head file %s is damaged (%d bytes, want %d with a matching CRC); it records how far the "+
				"spool was replayed: delete it to replay from the oldest spooled record (the region may get "+
				"some events twice), or move the directory %s aside to drop the spool", name, len(b), headLen, dir)
	}
	return binary.LittleEndian.Uint64(b), nil
}

// writeHead durably records acked as the last acknowledged sequence number.
func writeHead(dir string, acked uint64) error {
	var b [headLen]byte
	binary.LittleEndian.PutUint64(b[:], acked)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	if err := log.WriteFileDurable(log.OSFS{}, filepath.Join(dir, headName), b[:]); err != nil {
		return ioError(dir, "writing the head file", err)
	}
	return nil
}
