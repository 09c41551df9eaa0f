package sink

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// errStop, returned by a scan visitor, ends the scan without error.
var errStop = errors.New("stop scanning")

// scanResult says how far a scan got.
type scanResult struct {
	end  int64 // the offset after the last complete line read
	torn bool  // bytes after end have no newline: the tail of an interrupted append
}

// scanLines reads the lines of r from offset start to size, decodes each and calls visit with
// the row (its Data aliases a buffer reused by the next line: clone what you keep), the line's
// offset and the offset after it. A complete line (one that ends in a newline) that does not
// decode is corruption and fails the scan; bytes after the last newline are reported as torn.
func scanLines(path string, r io.ReaderAt, start, size int64, visit func(row Row, off, next int64) error) (scanResult, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, start, size-start), 64<<10)
	off := start
	var long []byte // a line longer than the reader's buffer, gathered in pieces
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			continue
		}
		if len(long) > 0 {
			long = append(long, line...)
			line = long
		}
		if err == io.EOF {
			return scanResult{end: off, torn: len(line) > 0}, nil
		}
		if err != nil {
			return scanResult{end: off}, errcode.New(errcode.Unavailable, "file sink %s: reading at byte %d: %w", path, off, err)
		}
		row, err := decodeLine(line[:len(line)-1])
		if err != nil {
			return scanResult{end: off}, corruptLine(path, off, err)
		}
		next := off + int64(len(line))
		if err := visit(row, off, next); err != nil {
			if err == errStop {
				err = nil
			}
			return scanResult{end: next}, err
		}
		off = next
		long = long[:0]
	}
}

// corruptLine is the error for a complete line that is not a row.
func corruptLine(path string, off int64, cause error) error {
	return errcode.New(errcode.CorruptData,
		"file sink %s: the line at byte %d is not a sink row (%w); the file was damaged or written by something else: "+
			"restore it from a copy, or truncate it to %d bytes to drop this line and all after it, and restart the job from a checkpoint before them",
		path, off, cause, off)
}

// outOfOrder is the error for a line whose position does not come after the one before it.
func outOfOrder(path string, off int64, prev, pos Position) error {
	return errcode.New(errcode.CorruptData,
		"file sink %s: the row at byte %d (time %d, key %q) does not come after the row before it (time %d, key %q); "+
			"the file was damaged or written by something else: restore it from a copy",
		path, off, pos.Time, pos.Key, prev.Time, prev.Key)
}

// lastLine returns the last complete line of r (size bytes, ending in a newline) without its
// newline, and its offset. It reads backwards in growing chunks, so a long file costs only its
// tail.
func lastLine(path string, r io.ReaderAt, size int64) ([]byte, int64, error) {
	for chunk := int64(4 << 10); ; chunk *= 4 {
		from := max(size-chunk, 0)
		buf := make([]byte, size-from)
		if _, err := r.ReadAt(buf, from); err != nil && err != io.EOF {
			return nil, 0, errcode.New(errcode.Unavailable, "file sink %s: reading the last line: %w", path, err)
		}
		if len(buf) == 0 || buf[len(buf)-1] != '\n' {
			return nil, 0, errcode.New(errcode.CorruptData,
				"file sink %s: the file does not end with a complete line; a rotated file never has a torn tail, so it was damaged: restore it from a copy", path)
		}
		body := buf[:len(buf)-1]
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			return body[i+1:], from + int64(i) + 1, nil
		}
		if from == 0 {
			return body, 0, nil
		}
	}
}

// firstRow decodes the first line of a segment file.
func firstRow(path string, r io.ReaderAt, size int64) (Position, error) {
	var first Position
	found := false
	_, err := scanLines(path, r, 0, size, func(row Row, _, _ int64) error {
		first, found = row.Pos(), true
		return errStop
	})
	if err == nil && !found {
		err = errcode.New(errcode.CorruptData, "file sink %s: the file has no complete line", path)
	}
	return first, err
}

// decodeAt decodes a line read from off, with the file named in errors.
func decodeAt(path string, line []byte, off int64) (Row, error) {
	row, err := decodeLine(line)
	if err != nil {
		return Row{}, corruptLine(path, off, err)
	}
	return row, nil
}
