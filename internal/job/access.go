package job

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// FilesDir is the directory under <data> that holds the files of confined jobs.
const FilesDir = "job-files"

// Creator is who creates a job, which bounds what the job may touch. The zero value is the
// node admin: any file the server can read or write, any namespace.
//
// A confined job (what an anonymous caller of `tandem serve --dev` creates) reads and writes
// local files only under <data>/job-files (reference files, SQLite databases, JSON-lines
// outputs; symbolic links are resolved before the check and ".." is refused), and reads and
// writes event hubs only of Namespace. The rest of <data> holds the admin key, the metadata and
// other jobs' definitions, so it is not open to confined jobs either.
type Creator struct {
	Confined  bool   `json:"confined,omitempty"`
	Namespace string `json:"namespace,omitempty"` // the namespace a confined job may use
}

// Admin is the node admin as a creator or a caller: the zero Creator.
var Admin = Creator{}

// access is what a job may touch and how much it may read: its creator's confinement and the
// Manager's limits. The job is checked against it when it is created and each time it starts.
type access struct {
	creator  Creator
	filesDir string // <data>/job-files
	refMax   int64  // the largest reference data file, in bytes
}

// checkAccess checks that every file and event hub the job names is open to its creator, and
// returns the resolved path of each reference file (by input name, lower case), which is what
// the job then reads.
func (s Spec) checkAccess(a access) (map[string]string, error) {
	refs := map[string]string{}
	for _, in := range s.Inputs {
		switch {
		case in.Reference == "":
			if err := a.namespace(fmt.Sprintf("input %s", in.Name), in.Namespace); err != nil {
				return nil, err
			}
		case sink.IsTableURL(in.Reference):
			path, err := sink.LocalPath(in.Reference, in.Name)
			if err != nil {
				return nil, errcode.New(errcode.InvalidArgument, "reference input %s: %w", in.Name, err)
			}
			if path == "" {
				err = a.postgres("reference input "+in.Name, in.Reference)
			} else {
				_, err = a.file("reference input "+in.Name, in.Reference, path)
			}
			if err != nil {
				return nil, err
			}
		default:
			path, err := a.file("reference input "+in.Name, in.Reference, in.Reference)
			if err != nil {
				return nil, err
			}
			refs[strings.ToLower(in.Name)] = path
		}
	}
	for _, o := range s.Outputs {
		if isHubURL(o.URL) {
			u, err := url.Parse(o.URL)
			if err != nil {
				return nil, errcode.New(errcode.InvalidArgument, "event hub output %q: write eventhub://NAMESPACE/HUB[?partition=N]", o.URL)
			}
			if err := a.namespace("output "+o.Name, u.Host); err != nil {
				return nil, err
			}
			continue
		}
		path, err := sink.LocalPath(o.URL, o.Name)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name, err)
		}
		if path == "" {
			err = a.postgres("output "+o.Name, o.URL)
		} else {
			_, err = a.file("output "+o.Name, o.URL, path)
		}
		if err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// namespace refuses an event hub of another namespace than a confined creator's.
func (a access) namespace(what, ns string) error {
	if !a.creator.Confined || strings.EqualFold(ns, a.creator.Namespace) {
		return nil
	}
	return errcode.New(errcode.Forbidden,
		"%s uses namespace %s; without the node admin key a job may use only event hubs of namespace %s (pass the admin key: --admin-key or TANDEM_ADMIN_KEY)",
		what, ns, a.creator.Namespace)
}

// file checks the local path that raw (a URL or a path) names. For a confined creator the path
// must lie under the files directory once every symbolic link is resolved; it returns that
// resolved path. Otherwise it returns path as it is.
func (a access) file(what, raw, path string) (string, error) {
	if !a.creator.Confined {
		return path, nil
	}
	real, why, err := a.inside(raw, path)
	if err != nil {
		return "", err
	}
	if why != "" {
		return "", errcode.New(errcode.Forbidden,
			"%s: %s %s; without the node admin key a job in --dev reads and writes files only under %s (put the file there, or pass the admin key: --admin-key or TANDEM_ADMIN_KEY)",
			what, sink.RedactURL(raw), why, a.filesDir)
	}
	return real, nil
}

// inside resolves path (which raw names) and says why it is not under the files directory, or
// returns the resolved path and "" when it is.
func (a access) inside(raw, path string) (real, why string, err error) {
	if slices.Contains(strings.Split(filepath.ToSlash(raw), "/"), "..") {
		return "", `has a ".." path element`, nil
	}
	real, err = resolve(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Sprintf("cannot be resolved (%v)", err), nil
	}
	root, err := filepath.EvalSymlinks(a.filesDir)
	if err != nil {
		return "", "", fmt.Errorf("job files directory: %w", err)
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", "is outside that directory", nil
	}
	return real, "", nil
}

// resolve makes path absolute with every symbolic link resolved: those of its directory (which
// must exist) and the file itself when it is a link. A file that does not exist yet (a new
// output) resolves to its name in the resolved directory.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", err
	}
	real := filepath.Join(dir, filepath.Base(abs))
	if fi, err := os.Lstat(real); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return filepath.EvalSymlinks(real)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return real, nil
}

// sees reports whether a caller may see and manage a job that owner created: the node admin
// sees every job; a confined caller (anonymous, in --dev) only the confined jobs of its own
// namespace, so it cannot read, start, stop, delete or replace the admin's jobs.
func (c Creator) sees(owner Creator) bool {
	return !c.Confined || (owner.Confined && strings.EqualFold(owner.Namespace, c.Namespace))
}

// checkOutputs refuses, when a job is created, an output that can never be opened: a URL with
// an unsupported scheme or malformed, the missing directory of a SQLite or JSON-lines file, a
// PostgreSQL server that answers but refuses the connection (wrong password, no such
// database). A PostgreSQL server that does not answer now is accepted: the job retries it when
// started and reports Degraded meanwhile.
func (s Spec) checkOutputs(ctx context.Context) error {
	for _, o := range s.Outputs {
		if isHubURL(o.URL) {
			continue
		}
		err := sink.CheckWritable(ctx, o.URL, o.Name)
		if err == nil || errcode.Is(err, errcode.Unavailable) {
			continue
		}
		return errcode.New(errcode.CodeOf(err), "output %s: %w", o.Name, err)
	}
	return nil
}
