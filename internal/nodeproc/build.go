package nodeproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// tandemPackage is the import path of the tandem command.
const tandemPackage = "github.com/tandem-streaming/tandem/cmd/tandem"

// BuildTandem builds the tandem executable into dir with the go tool and returns its path. It
// is for process-level tests, which run the binary of the tree they test; the go tool's output
// goes to stderr.
func BuildTandem(ctx context.Context, dir string, tags ...string) (string, error) {
	bin := filepath.Join(dir, "tandem")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	build := exec.CommandContext(ctx, "go", append(args, tandemPackage)...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building %s: %w", tandemPackage, err)
	}
	return bin, nil
}
