// Package sinktest gives tests a real PostgreSQL database for sinks: Postgres(t) creates a fresh
// database for one test on the server TANDEM_TEST_POSTGRES names and drops it when the test ends.
//
// scripts/test starts a throwaway server and sets TANDEM_TEST_POSTGRES when it is not already
// set. Without it, a test that needs PostgreSQL fails when CI=true and skips otherwise, with the
// reason scripts/test gave (TANDEM_TEST_POSTGRES_ERROR). The package is for tests only: it must
// not be imported by code that ships.
package sinktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable with the DSN of a PostgreSQL server the tests may create
// databases on, e.g. postgres://tandem-pg@127.0.0.1:55432/tandem?sslmode=disable.
const EnvDSN = "TANDEM_TEST_POSTGRES"

// EnvError names the environment variable in which scripts/test says why it has no server.
const EnvError = "TANDEM_TEST_POSTGRES_ERROR"

// Postgres returns the DSN of a new, empty database for this test, dropped at its end.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvDSN)
	if admin == "" {
		msg := EnvDSN + " is not set, so there is no PostgreSQL for this test: run the tests with scripts/test, " +
			"which starts a throwaway server, or set " + EnvDSN + "=postgres://user@host:port/db?sslmode=disable"
		if why := os.Getenv(EnvError); why != "" {
			msg += " (scripts/test: " + why + ")"
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvDSN, err)
	}
	name := dbName(t.Name())
	exec(t, admin, `CREATE DATABASE "`+name+`"`)
	t.Cleanup(func() { exec(t, admin, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`) })
	u.Path = "/" + name
	return u.String()
}

// dbName makes a database name from the test's name and a random suffix: at most 63 bytes of
// lower-case letters, digits and underscores.
func dbName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	return "t_" + b.String() + "_" + hex.EncodeToString(suffix[:])
}

// exec runs one statement on the admin database.
func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("cannot connect to the test PostgreSQL (%s=%s): %v", EnvDSN, redacted(dsn), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("test PostgreSQL: %s: %v", sql, err)
	}
}

// redacted is dsn with any password replaced, for messages.
func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
