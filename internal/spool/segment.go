package spool

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

const segSuffix = ".spool"

// segment is one segment file: the records first … last, back to back, in size bytes.
type segment struct {
	first uint64 // sequence number of its first record, from its name
	last  uint64 // sequence number of its last record; first-1 when it is empty
	size  int64  // bytes of whole records
}

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// listSegments returns the segment files in dir, oldest first, with first and size set (last is
// set when they are scanned). Files without the segment suffix are not the spool's concern.
func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, ioError(dir, "listing the directory", err)
	}
	var segs []segment
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil || first == 0 || first > seqMask || segName(first) != e.Name() {
			return nil, errcode.New(errcode.CorruptData,
				"spool %s holds %s, which is not a segment file name (20 digits, from 1, then %s); move it out of the directory",
				dir, e.Name(), segSuffix)
		}
		info, err := e.Info()
		if err != nil {
			return nil, ioError(dir, "reading "+e.Name(), err)
		}
		segs = append(segs, segment{first: first, last: first - 1, size: info.Size()})
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.first, b.first) })
	return segs, nil
}
