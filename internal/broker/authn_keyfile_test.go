package broker

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Options.AdminKeyFile: the nodes of a region share one admin key file instead of each making
// <data>/admin-key; it must exist, hold a key and be private.
func TestAdminKeyFile(t *testing.T) {
	keyDir := t.TempDir()
	shared := filepath.Join(keyDir, "admin-key")
	if err := os.WriteFile(shared, []byte("the-regions-admin-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		dir := t.TempDir()
		b, err := Open(context.Background(), Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), AdminKeyFile: shared})
		if err != nil {
			t.Fatal(err)
		}
		if !b.CheckAdminKey("the-regions-admin-key") || b.AdminKeyPath() != shared {
			t.Errorf("node %d does not take the shared admin key", i)
		}
		if _, err := os.Stat(filepath.Join(dir, "admin-key")); !os.IsNotExist(err) {
			t.Errorf("node %d made its own admin key beside the shared one", i)
		}
		b.Close()
	}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"missing", "", 0, "no such file"},
		{"empty", "\n", 0o600, "is empty"},
		{"readable by others", "key\n", 0o640, "chmod 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "admin-key")
			if tc.mode != 0 {
				if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, tc.mode)
			}
			b, err := Open(context.Background(), Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), AdminKeyFile: path})
			if err == nil {
				b.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s and say %q", err, path, tc.want)
			}
		})
	}
}
