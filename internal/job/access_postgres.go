package job

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// pgFileParams are the connection parameters with which the PostgreSQL driver reads a local
// file: a password file, TLS keys and certificates, and a service file (whose entries can
// also redirect the connection to another host).
var pgFileParams = []string{"passfile", "service", "servicefile", "sslcert", "sslkey", "sslrootcert"}

// postgres checks where a postgres:// sink or reference table URL connects. A confined job
// (anonymous, in --dev) connects only to this machine: every host it may try (fallbacks and
// the driver's defaults included) is a loopback address (127.0.0.0/8, ::1), localhost, or a
// Unix socket under the files directory; and it names no parameter that reads a local file.
// So a dev node cannot be made to connect to other hosts. The node admin's jobs connect
// anywhere.
func (a access) postgres(what, raw string) error {
	if !a.creator.Confined {
		return nil
	}
	refuse := func(why string) error {
		return errcode.New(errcode.Forbidden,
			"%s: %s %s; without the node admin key a job in --dev connects to PostgreSQL only on this machine: host 127.0.0.1 (any of 127.0.0.0/8), ::1 or localhost, or a Unix socket under %s (or pass the admin key: --admin-key or TANDEM_ADMIN_KEY)",
			what, sink.RedactURL(raw), why, a.filesDir)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errcode.New(errcode.InvalidArgument,
			"%s: the PostgreSQL URL is malformed; the form is postgres://user:pass@127.0.0.1:5432/db?table=T", what)
	}
	q := u.Query()
	for k := range q {
		if slices.Contains(pgFileParams, strings.ToLower(k)) {
			return refuse(fmt.Sprintf("has the parameter %s, which makes the driver read a local file", k))
		}
	}
	q.Del("table")
	u.RawQuery = q.Encode()
	cfg, err := pgconn.ParseConfig(u.String())
	if err != nil {
		return errcode.New(errcode.InvalidArgument, "%s: the PostgreSQL URL is not valid: %s", what, sink.Redact(err.Error()))
	}
	hosts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port}}, cfg.Fallbacks...)
	for _, h := range hosts {
		why, err := a.pgHost(raw, h.Host, h.Port)
		if err != nil {
			return err
		}
		if why != "" {
			return refuse(why)
		}
	}
	return nil
}

// pgHost says why a confined job may not connect to host (a name, an IP address or a Unix
// socket directory) and port, or "" when it may.
func (a access) pgHost(raw, host string, port uint16) (string, error) {
	if strings.HasPrefix(host, "/") {
		socket := filepath.Join(host, fmt.Sprintf(".s.PGSQL.%d", port))
		_, why, err := a.inside(raw, socket)
		if why != "" {
			why = fmt.Sprintf("connects through the Unix socket %s, which %s", socket, strings.Replace(why, "that directory", a.filesDir, 1))
			if !strings.Contains(raw, host) {
				why += " (the driver's default when the URL names no host)"
			}
		}
		return why, err
	}
	if strings.EqualFold(host, "localhost") {
		return "", nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && ip.Unmap().IsLoopback() {
		return "", nil
	}
	return fmt.Sprintf("connects to host %s, which is not a loopback address", host), nil
}
