package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// stateVersion is the version of the state file's format.
const stateVersion = 1

// stateFile is the content of FollowOptions.StateFile: the position of the last row the reader
// committed and the source it was reading then (a restarted follower starts on that source).
//
//	{"version":1,"time":638500000000000000,"key":"d1","source":"secondary"}
type stateFile struct {
	Version int    `json:"version"`
	Time    int64  `json:"time"` // ticks; sink.Beginning's (the minimum int64) before any row
	Key     string `json:"key"`
	Source  string `json:"source"`
}

// loadState reads the state file at path; ok is false when there is none.
func loadState(path string) (pos sink.Position, current int, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := checkStateDir(path); err != nil {
			return sink.Position{}, 0, false, err
		}
		return sink.Beginning, primary, false, nil
	}
	if err != nil {
		return sink.Position{}, 0, false, errcode.New(errcode.Unavailable, "output state file %s: reading: %w", path, err)
	}
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(&st)
	switch {
	case err != nil:
	case dec.More():
		err = errors.New("more than one JSON object")
	case st.Version != stateVersion:
		err = fmt.Errorf("version %d, not %d", st.Version, stateVersion)
	case st.Source != sourceNames[primary] && st.Source != sourceNames[secondary]:
		err = fmt.Errorf("source %q, not primary or secondary", st.Source)
	}
	if err != nil {
		return sink.Position{}, 0, false, errcode.New(errcode.CorruptData,
			"output state file %s is not valid (%v); it holds the position the reader has committed: restore it, "+
				"write {\"version\":1,\"time\":TICKS,\"key\":\"KEY\",\"source\":\"primary\"} with the last row you processed, "+
				"or delete it to read the output from the beginning", path, err)
	}
	current = primary
	if st.Source == sourceNames[secondary] {
		current = secondary
	}
	return sink.Position{Time: st.Time, Key: st.Key}, current, true, nil
}

// checkStateDir fails when the directory the state file goes in does not exist.
func checkStateDir(path string) error {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return errcode.New(errcode.InvalidArgument,
			"the directory of the output state file %s does not exist or is not a directory; create it first", path)
	}
	return nil
}

// saveState replaces the state file atomically and durably.
func saveState(path string, pos sink.Position, current int) error {
	data, err := json.Marshal(stateFile{Version: stateVersion, Time: pos.Time, Key: pos.Key, Source: sourceNames[current]})
	if err != nil {
		return err
	}
	if err := log.WriteFileDurable(log.OSFS{}, path, append(data, '\n')); err != nil {
		return errcode.New(errcode.Unavailable, "output state file %s: writing: %w; the position is not committed, commit again", path, err)
	}
	return nil
}
