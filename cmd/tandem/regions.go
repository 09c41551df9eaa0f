package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// regionsFile lists regions by name: where each one's HTTP API is and where its admin key is.
// `tandem dev` writes one (<dir>/regions.json); --regions A,B reads the names from it.
type regionsFile struct {
	Regions []regionEntry `json:"regions"`
}

type regionEntry struct {
	Name         string `json:"name"`
	Server       string `json:"server"`                 // http://host:port
	AdminKeyFile string `json:"adminKeyFile,omitempty"` // absolute, or relative to the file's directory
	Kafka        string `json:"kafka,omitempty"`
	Namespace    string `json:"namespace,omitempty"` // the region's geo-DR namespace (tandem dev)
	DataDir      string `json:"dataDir,omitempty"`   // a local region's data directory (tandem dev)
	CAFile       string `json:"caFile,omitempty"`    // CA certificate of an https server (tandem dev --tls)
	// Nodes are a cluster region's nodes (tandem dev --nodes 3); Server is one of them.
	Nodes []regionNode `json:"nodes,omitempty"`
}

// namedRegion is a region the CLI talks to.
type namedRegion struct {
	regionEntry
	c *client.Client
}

func defaultRegionsFile() string {
	return envOr("TANDEM_REGIONS_FILE", filepath.Join("tandem-dev", "regions.json"))
}

// addRegionFlags adds --regions and --regions-file to cmd.
func addRegionFlags(cmd *cobra.Command, required bool) {
	f := cmd.Flags()
	f.StringSlice("regions", nil, "regions, comma-separated: names from --regions-file (as tandem dev writes it), or NAME=http://host:port")
	f.String("regions-file", defaultRegionsFile(), "file naming the regions (env TANDEM_REGIONS_FILE)")
	if required {
		_ = cmd.MarkFlagRequired("regions")
	}
}

// regionsFromFlags resolves --regions: each entry is a name in --regions-file, or NAME=URL
// (whose admin key is the file's entry of that name, else --admin-key).
func regionsFromFlags(cmd *cobra.Command) ([]namedRegion, error) {
	names, _ := cmd.Flags().GetStringSlice("regions")
	path, _ := cmd.Flags().GetString("regions-file")
	if len(names) == 0 {
		return nil, nil
	}
	file, fileErr := readRegionsFile(path)
	var out []namedRegion
	seen := map[string]bool{}
	for _, n := range names {
		name, server, inline := strings.Cut(strings.TrimSpace(n), "=")
		e, known := file.find(name)
		switch {
		case name == "":
			return nil, errcode.New(errcode.InvalidArgument, "--regions has an empty entry; write --regions east,west or --regions east=http://127.0.0.1:8080,west=…")
		case seen[name]:
			return nil, errcode.New(errcode.InvalidArgument, "--regions names %s twice", name)
		case !inline && !known && fileErr != nil:
			return nil, errcode.New(errcode.InvalidArgument, "region %s: %v; give it as %s=http://host:port, or point --regions-file at the file `tandem dev` wrote", name, fileErr, name)
		case !inline && !known:
			return nil, errcode.New(errcode.NotFound, "region %s is not in %s (it has %s); give it as %s=http://host:port", name, path, file.names(), name)
		}
		seen[name] = true
		if inline {
			e = regionEntry{Name: name, Server: server, AdminKeyFile: e.AdminKeyFile, CAFile: e.CAFile}
		}
		c, err := e.client(cmd)
		if err != nil {
			return nil, err
		}
		out = append(out, namedRegion{regionEntry: e, c: c})
	}
	return out, nil
}

func readRegionsFile(path string) (regionsFile, error) {
	var f regionsFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, errcode.New(errcode.NotFound, "reading the regions file: %v", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, errcode.New(errcode.InvalidArgument, "regions file %s is not valid JSON: %v", path, err)
	}
	dir := filepath.Dir(path)
	for i := range f.Regions {
		if k := f.Regions[i].AdminKeyFile; k != "" && !filepath.IsAbs(k) {
			f.Regions[i].AdminKeyFile = filepath.Join(dir, k)
		}
		if k := f.Regions[i].CAFile; k != "" && !filepath.IsAbs(k) {
			f.Regions[i].CAFile = filepath.Join(dir, k)
		}
	}
	return f, nil
}

func (f regionsFile) find(name string) (regionEntry, bool) {
	for _, e := range f.Regions {
		if e.Name == name {
			return e, true
		}
	}
	return regionEntry{}, false
}

func (f regionsFile) names() string {
	var n []string
	for _, e := range f.Regions {
		n = append(n, e.Name)
	}
	if len(n) == 0 {
		return "no regions"
	}
	return strings.Join(n, ", ")
}

// client builds the region's client: its admin key file, else the root --admin-key.
func (e regionEntry) client(cmd *cobra.Command) (*client.Client, error) {
	key, _ := cmd.Flags().GetString("admin-key")
	if e.AdminKeyFile != "" {
		b, err := os.ReadFile(e.AdminKeyFile)
		if err != nil {
			return nil, errcode.New(errcode.InvalidArgument, "region %s: reading its admin key: %v", e.Name, err)
		}
		key = strings.TrimSpace(string(b))
	}
	var opts []client.Option
	if key != "" {
		opts = append(opts, client.WithAdminKey(key))
	}
	hc, err := cliHTTPClient(cmd, e.CAFile)
	if err != nil {
		return nil, err
	}
	return client.New(e.Server, append(opts, client.WithHTTPClient(hc))...)
}

// writeRegionsFile writes f to path (tandem dev, tandem drill).
func writeRegionsFile(path string, f regionsFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return errcode.New(errcode.Internal, "writing %s: %w", path, err)
	}
	return nil
}
