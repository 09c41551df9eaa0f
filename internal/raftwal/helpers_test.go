package raftwal

import (
	"fmt"
	"os"
	"strings"

	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// dumpWAL lists every record of every segment, for failure messages.
func dumpWAL(fsys seglog.FS, dir string) string {
	var sb strings.Builder
	w := &WAL{fs: fsys, opts: Options{Dir: dir}}
	seqs, err := w.listSegments()
	if err != nil {
		return err.Error()
	}
	for _, seq := range seqs {
		f, err := fsys.OpenFile(w.path(segName(seq)), os.O_RDONLY, 0)
		if err != nil {
			fmt.Fprintf(&sb, "%s: %v\n", segName(seq), err)
			continue
		}
		st, _ := f.Stat()
		fmt.Fprintf(&sb, "%s (%d bytes):\n", segName(seq), st.Size())
		_, err = scanRecords(f, st.Size(), func(r record, off int64, n int) error {
			extra := ""
			if r.kind == kindCompact && len(r.payload) == 8 {
				extra = fmt.Sprintf(" last=%d", u64of(r.payload))
			}
			fmt.Fprintf(&sb, "  @%d g%d %s i=%d t=%d%s\n", off, r.group, r.kind, r.index, r.term, extra)
			return nil
		})
		if err != nil {
			fmt.Fprintf(&sb, "  stop: %v\n", err)
		}
		_ = f.Close()
	}
	return sb.String()
}

func u64of(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
