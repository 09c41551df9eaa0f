package main

// The CLI over the HTTP API: shared flags, argument parsing and output. The commands are in
// cli_manage.go (namespaces, hubs, groups, rules, connection strings) and cli_data.go (send,
// receive).

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// addClientFlags adds the flags that say which server to talk to and how to authenticate.
func addClientFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.String("server", envOr("TANDEM_SERVER", "http://127.0.0.1:8080"), "HTTP address of a Tandem node (env TANDEM_SERVER)")
	f.String("admin-key", os.Getenv("TANDEM_ADMIN_KEY"),
		"node admin key (env TANDEM_ADMIN_KEY; default: the file admin-key in --data)")
	f.String("connection-string", os.Getenv("TANDEM_CONNECTION_STRING"),
		"authenticate with an Event Hubs connection string instead of the admin key (env TANDEM_CONNECTION_STRING)")
	f.String("data", "./tandem-data", "data directory of a local node, whose admin-key file the CLI reads when no key is given")
	f.String("ca", os.Getenv("TANDEM_CA"), "PEM CA certificate to trust for an https --server (env TANDEM_CA; "+
		"default: <data>/tls/ca.pem when it exists, as serve --tls-dev writes it, else the system roots)")
	f.StringP("output", "o", "text", "output format: text or json")
}

// addCLICommands adds the management and data commands.
func addCLICommands(root *cobra.Command) {
	root.AddCommand(newNamespaceCmd(), newHubCmd(), newGroupCmd(), newRuleCmd(), newConnectionStringCmd(),
		newSendCmd(), newReceiveCmd(), newAliasCmd(), newJobCmd(), newOutputCmd(), newClusterCmd())
}

// newClient builds a client from the flags: a connection string if given, else the admin
// key (flag, TANDEM_ADMIN_KEY, or the node's key file), else anonymous (dev mode).
func newClient(cmd *cobra.Command) (*client.Client, error) {
	if err := checkOutput(cmd); err != nil {
		return nil, err
	}
	flag := func(name string) string { v, _ := cmd.Flags().GetString(name); return v }
	var opts []client.Option
	switch {
	case flag("connection-string") != "":
		opts = append(opts, client.WithConnectionString(flag("connection-string")))
	case flag("admin-key") != "":
		opts = append(opts, client.WithAdminKey(flag("admin-key")))
	default:
		file := filepath.Join(flag("data"), "admin-key")
		b, err := os.ReadFile(file)
		if err == nil {
			opts = append(opts, client.WithAdminKey(strings.TrimSpace(string(b))))
			break
		}
		// Anonymous: fine for namespace default of a --dev node; any other refusal says
		// where the CLI looked and what to pass.
		opts = append(opts, client.WithNoCredentialHint(noCredentialHint(file, err)))
	}
	hc, err := cliHTTPClient(cmd, "")
	if err != nil {
		return nil, err
	}
	return client.New(flag("server"), append(opts, client.WithHTTPClient(hc))...)
}

// noCredentialHint is what the CLI says when it had no credential to send: the admin-key
// file it tried, why it could not use it, and the three ways to give one.
func noCredentialHint(file string, err error) string {
	why := "not found"
	if !errors.Is(err, fs.ErrNotExist) {
		why = "unreadable (" + err.Error() + ")"
	}
	if !filepath.IsAbs(file) {
		abs, _ := filepath.Abs(file)
		if !strings.HasPrefix(file, "..") {
			file = "./" + file // as the user wrote the default, ./tandem-data
		}
		file += " (" + abs + ")"
	}
	return "the CLI has no credential: the admin key file " + file + " is " + why +
		"; pass --data DIR (the data directory of the node, which holds admin-key), --admin-key KEY or TANDEM_ADMIN_KEY, " +
		"or --connection-string (TANDEM_CONNECTION_STRING)"
}

// cliHTTPClient is the CLI's HTTP client. For https it trusts exactly the CA in caFile, else
// in --ca (or TANDEM_CA), else in <data>/tls/ca.pem when that file exists; with none of them
// it trusts the system roots. It never skips verification.
func cliHTTPClient(cmd *cobra.Command, caFile string) (*http.Client, error) {
	if caFile == "" {
		caFile, _ = cmd.Flags().GetString("ca")
	}
	if caFile == "" {
		data, _ := cmd.Flags().GetString("data")
		if p := filepath.Join(data, "tls", tlsconf.CAFile); fileExists(p) {
			caFile = p
		}
	}
	tc, err := tlsconf.Client(caFile)
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "--ca: %v", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: trustHint{rt: tr, caFile: caFile}}, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// trustHint adds to a certificate verification error what to do about it.
type trustHint struct {
	rt     http.RoundTripper
	caFile string
}

func (h trustHint) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.rt.RoundTrip(r)
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown) && h.caFile == "":
		err = fmt.Errorf("%w; the server's certificate is signed by a CA the CLI does not trust: give that CA's certificate "+
			"with --ca FILE (env TANDEM_CA); a node run with --tls-dev keeps it in <data>/tls/ca.pem", err)
	case errors.As(err, &unknown):
		err = fmt.Errorf("%w; the server's certificate is not signed by the CA in %s: give the CA that signed it with --ca FILE",
			err, h.caFile)
	case errors.As(err, &host):
		err = fmt.Errorf("%w; connect with --server naming a host the certificate holds", err)
	}
	return resp, err
}

// outputFormat is the root's -o/--output (a command with its own --output, as job create's
// sinks, keeps the default).
func outputFormat(cmd *cobra.Command) string {
	o, _ := cmd.Root().PersistentFlags().GetString("output")
	return o
}

func checkOutput(cmd *cobra.Command) error {
	if o := outputFormat(cmd); o != "text" && o != "json" {
		return errcode.New(errcode.InvalidArgument, "--output %q is invalid; use text or json", o)
	}
	return nil
}

func jsonOutput(cmd *cobra.Command) bool { return outputFormat(cmd) == "json" }

// splitPath splits "NS/HUB"-style arguments into exactly n parts, naming the form on error.
func splitPath(arg string, form string) ([]string, error) {
	n := strings.Count(form, "/") + 1
	parts := strings.Split(arg, "/")
	if len(parts) != n || slicesContainEmpty(parts) {
		return nil, errcode.New(errcode.InvalidArgument, "%s expected, got %q", form, arg)
	}
	return parts, nil
}

// nsAndHub splits "NS" or "NS/HUB".
func nsAndHub(arg string) (string, string, error) {
	parts := strings.Split(arg, "/")
	if len(parts) > 2 || slicesContainEmpty(parts) {
		return "", "", errcode.New(errcode.InvalidArgument, "NS or NS/HUB expected, got %q", arg)
	}
	if len(parts) == 1 {
		return parts[0], "", nil
	}
	return parts[0], parts[1], nil
}

func slicesContainEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a message that shows the expected form.
func exactArgs(n int, form string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return errcode.New(errcode.InvalidArgument, "%s expects %s, got %d argument(s); see '%s --help'",
				cmd.CommandPath(), form, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable writes a header and rows aligned in columns.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// show prints v as JSON with -o json, else as a table.
func show(cmd *cobra.Command, v any, header []string, rows [][]string) error {
	if jsonOutput(cmd) {
		return printJSON(cmd.OutOrStdout(), v)
	}
	return printTable(cmd.OutOrStdout(), header, rows)
}

// done prints a confirmation in text mode, or {"ok":true,…} in JSON mode.
func done(cmd *cobra.Command, msg string) error {
	if jsonOutput(cmd) {
		return printJSON(cmd.OutOrStdout(), map[string]any{"ok": true, "message": msg})
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), msg)
	return err
}
