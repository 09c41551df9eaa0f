package main

// The geo-DR alias commands (`tandem alias …`), after az eventhubs georecovery-alias, with
// NS/ALIAS positional arguments.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func newAliasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "alias",
		Aliases: []string{"georecovery-alias", "geodr"},
		Short:   "Geo-disaster recovery: pair a namespace with one in another region, break the pairing, fail over",
		Long: `An alias is a stable name clients connect through (connection strings with Endpoint=sb://ALIAS/).
It points at a primary namespace in one region, paired with an empty secondary namespace in
another region that receives the primary's metadata (event hubs, consumer groups, settings).

  tandem alias exists NS/ALIAS                      is the name free?
  tandem alias create NS/ALIAS --partner-endpoint URL --partner-namespace NS2 --partner-admin-key KEY --wait
  tandem alias show NS/ALIAS                        role, provisioning state, replication lag
  tandem alias connection-string NS/ALIAS           Endpoint=sb://ALIAS/;…
  tandem alias break-pair NS/ALIAS                  on the primary's region: stop replicating
  tandem --server SECONDARY alias fail-over NS2/ALIAS   on the secondary's region: move the alias there
  tandem alias delete NS/ALIAS                      once it is no longer paired

NS is the namespace on the node --server names: the primary for create and break-pair, the
secondary for fail-over.`,
	}
	cmd.AddCommand(newAliasExistsCmd(), newAliasCreateCmd(), newAliasShowCmd(), newAliasListCmd(),
		newAliasBreakPairCmd(), newAliasFailoverCmd(), newAliasDeleteCmd(), newAliasRulesCmd(),
		newAliasKeysCmd(), newAliasConnectionStringCmd())
	return cmd
}

// aliasRun parses NS/ALIAS, builds the client and calls fn.
func aliasRun(fn func(cmd *cobra.Command, c *client.Client, ns, alias string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, err := splitPath(args[0], "NS/ALIAS")
		if err != nil {
			return err
		}
		c, err := newClient(cmd)
		if err != nil {
			return err
		}
		return fn(cmd, c, p[0], p[1])
	}
}

func newAliasExistsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exists NS/ALIAS",
		Short: "Check whether an alias name is free to be created; exits non-zero when it is taken or invalid",
		Args:  exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			av, err := c.CheckAliasName(cmd.Context(), ns, alias)
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				if err := printJSON(cmd.OutOrStdout(), av); err != nil {
					return err
				}
			}
			return nameAvailabilityResult(cmd, ns, alias, av)
		}),
	}
}

// nameAvailabilityResult prints a free name in text mode, and turns a taken or invalid one
// into the error that sets the exit code.
func nameAvailabilityResult(cmd *cobra.Command, ns, alias string, av client.NameAvailability) error {
	if av.NameAvailable {
		if jsonOutput(cmd) {
			return nil
		}
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "alias name %s is available on namespace %s\n", alias, ns)
		return err
	}
	if av.Reason == "InvalidName" {
		if av.Message != "" {
			return errcode.New(errcode.InvalidArgument, "%s", av.Message)
		}
		return errcode.New(errcode.InvalidArgument, "alias name %q is invalid; use 6 to 50 letters, digits and hyphens", alias)
	}
	why := av.Message
	if why == "" {
		why = "reason " + orDash(av.Reason)
	}
	return errcode.New(errcode.AlreadyExists, "alias name %q is taken (%s); choose another name", alias, why)
}

// aliasCreateSettings are the flags of alias create.
type aliasCreateSettings struct {
	o       client.AliasOptions
	wait    bool
	timeout time.Duration
}

func newAliasCreateCmd() *cobra.Command {
	var s aliasCreateSettings
	cmd := &cobra.Command{
		Use:   "create NS/ALIAS --partner-endpoint URL --partner-namespace NS2 (--partner-connection-string CS | --partner-admin-key KEY)",
		Short: "Pair namespace NS (the primary, on --server) with NS2 in the partner region under the name ALIAS",
		Long: `Create alias ALIAS on namespace NS, the primary, on the node --server names, and pair it with
namespace NS2 on the node at --partner-endpoint, the secondary. The secondary must be new and
empty; tiers must be compatible. The primary's region calls the partner with one credential:
--partner-connection-string (a connection string of a Manage rule of NS2, env
TANDEM_PARTNER_CONNECTION_STRING) or --partner-admin-key (the partner node's admin key, env
TANDEM_PARTNER_ADMIN_KEY). --partner-namespace may be left out with a connection string: its
endpoint names the namespace.

Pairing goes on in the background (provisioning state Accepted); --wait waits until it has
Succeeded or Failed, and fails with the reason when it Failed.`,
		Example: `  tandem alias create shop-eu1/shop --partner-endpoint http://10.0.1.5:8080 --partner-namespace shop-eu2 \
      --partner-admin-key "$(cat /srv/tandem-west/admin-key)" --wait`,
		Args: exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			if err := s.complete(); err != nil {
				return err
			}
			a, err := c.CreateAlias(cmd.Context(), ns, alias, s.o)
			if err != nil {
				return err
			}
			if s.wait && !client.Provisioned(a) {
				ctx, cancel := context.WithTimeout(cmd.Context(), s.timeout)
				defer cancel()
				if a, err = c.WaitAlias(ctx, ns, alias, client.Provisioned); err != nil {
					return err
				}
			}
			if err := showAlias(cmd, a); err != nil {
				return err
			}
			if a.ProvisioningState == client.ProvisioningFailed {
				return errcode.New(errcode.Conflict,
					"pairing alias %q failed: %s; fix that, then 'tandem alias delete %s/%s' and create it again",
					alias, orDash(a.Reason), ns, alias)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&s.o.PartnerEndpoint, "partner-endpoint", "", "HTTP API of the partner (secondary) region, such as http://127.0.0.1:8180")
	f.StringVar(&s.o.PartnerNamespace, "partner-namespace", "", "the secondary namespace in the partner region")
	f.StringVar(&s.o.PartnerConnectionString, "partner-connection-string", os.Getenv("TANDEM_PARTNER_CONNECTION_STRING"),
		"connection string of a Manage rule of the secondary namespace (env TANDEM_PARTNER_CONNECTION_STRING)")
	f.StringVar(&s.o.PartnerAdminKey, "partner-admin-key", os.Getenv("TANDEM_PARTNER_ADMIN_KEY"),
		"admin key of the partner node (env TANDEM_PARTNER_ADMIN_KEY)")
	f.BoolVar(&s.wait, "wait", false, "wait until the pairing has Succeeded or Failed")
	f.DurationVar(&s.timeout, "timeout", 2*time.Minute, "with --wait, how long to wait")
	return cmd
}

// complete checks the create flags and fills the partner namespace from the connection string.
func (s *aliasCreateSettings) complete() error {
	o := &s.o
	if o.PartnerEndpoint == "" {
		return errcode.New(errcode.InvalidArgument,
			"--partner-endpoint is missing; give the HTTP address of the secondary's region, such as http://127.0.0.1:8180")
	}
	if !strings.HasPrefix(o.PartnerEndpoint, "http://") && !strings.HasPrefix(o.PartnerEndpoint, "https://") {
		return errcode.New(errcode.InvalidArgument,
			"--partner-endpoint %q is not an HTTP URL; use http://host:port of the secondary's region", o.PartnerEndpoint)
	}
	switch {
	case o.PartnerConnectionString != "" && o.PartnerAdminKey != "":
		return errcode.New(errcode.InvalidArgument,
			"both --partner-connection-string and --partner-admin-key are set (flags or TANDEM_PARTNER_* environment); give one")
	case o.PartnerConnectionString == "" && o.PartnerAdminKey == "":
		return errcode.New(errcode.InvalidArgument,
			"the partner region needs a credential; give --partner-connection-string (a Manage rule of the secondary namespace) or --partner-admin-key")
	}
	if o.PartnerConnectionString != "" {
		cs, err := auth.ParseConnectionString(o.PartnerConnectionString)
		if err != nil {
			return errcode.New(errcode.InvalidArgument, "--partner-connection-string: %w", err)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(cs.Endpoint, "sb://"), "/")
		csNS, _, _ := strings.Cut(host, ".")
		switch {
		case o.PartnerNamespace == "":
			o.PartnerNamespace = csNS
		case !strings.EqualFold(o.PartnerNamespace, csNS):
			return errcode.New(errcode.InvalidArgument,
				"--partner-namespace is %q but --partner-connection-string is for namespace %q; give the secondary's connection string",
				o.PartnerNamespace, csNS)
		}
	}
	if o.PartnerNamespace == "" {
		return errcode.New(errcode.InvalidArgument, "--partner-namespace is missing; name the secondary namespace in the partner region")
	}
	if s.timeout <= 0 {
		return errcode.New(errcode.InvalidArgument, "--timeout %v is invalid; use a positive duration such as 2m", s.timeout)
	}
	return nil
}

func newAliasShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NS/ALIAS",
		Short: "Show a namespace's side of an alias: role, provisioning state, partner, replication lag",
		Args:  exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			a, err := c.GetAlias(cmd.Context(), ns, alias)
			if err != nil {
				return err
			}
			return showAlias(cmd, a)
		}),
	}
}

func newAliasListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list NS",
		Short: "List the aliases of a namespace",
		Args:  exactArgs(1, "NS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			as, err := c.ListAliases(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if as == nil {
				as = []client.Alias{}
			}
			rows := make([][]string, len(as))
			for i, a := range as {
				rows[i] = []string{a.Name, a.Role, a.ProvisioningState, partnerText(a), activeText(a),
					strconv.FormatUint(a.Epoch, 10), strconv.FormatInt(a.PendingReplicationOperations, 10), lagText(a)}
			}
			return show(cmd, as, []string{"NAME", "ROLE", "STATE", "PARTNER", "ACTIVE", "EPOCH", "PENDING", "LAG"}, rows)
		},
	}
}

func newAliasBreakPairCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "break-pair NS/ALIAS",
		Aliases: []string{"break-pairing"},
		Short:   "Stop replicating the primary NS to its secondary (run on the primary's region)",
		Long: `Break the pairing of alias ALIAS on its primary namespace NS (on the node --server names).
The alias stays on NS; the secondary keeps the entities it has and takes writes again under its
own name. Pair again with 'tandem alias create', or remove the alias with 'tandem alias delete'.`,
		Args: exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			a, err := c.BreakPairing(cmd.Context(), ns, alias)
			if err != nil {
				return err
			}
			return showAlias(cmd, a)
		}),
	}
}

func newAliasFailoverCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "fail-over NS/ALIAS",
		Aliases: []string{"failover"},
		Short:   "Move the alias to the secondary NS (run with --server pointing at the secondary's region)",
		Long: `Fail over alias ALIAS to its secondary namespace NS: run it with --server pointing at the
secondary's region, because the primary's region may be gone. Alias clients are then served
by NS, the pairing is broken, and the epoch grows: a failover happens once and cannot be undone
(pair again, the other way round, to go back).

The command says whether the former primary was reached and told it lost the alias. If it was
not (its region is down), it learns it when it comes back and stops taking alias traffic; its
events stay readable through its own namespace name.`,
		Example: `  tandem --server http://127.0.0.1:8180 alias fail-over tandem-west/tandem-dev`,
		Args:    exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			a, err := c.Failover(cmd.Context(), ns, alias)
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), a)
			}
			if err := showAlias(cmd, a); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "\n"+failoverSummary(a))
			return err
		}),
	}
}

// failoverSummary says where the alias is now and whether the former primary knows.
func failoverSummary(a client.Alias) string {
	where := fmt.Sprintf("alias %s is now served by namespace %s in region %s (epoch %d)",
		a.Name, orDash(a.Namespace), orDash(a.Region), a.Epoch)
	former := "the former primary"
	if a.PartnerNamespace != "" {
		former += " " + a.PartnerNamespace
		if a.PartnerRegion != "" {
			former += " in " + a.PartnerRegion
		}
	}
	if a.FormerPrimaryNotified {
		return where + "; " + former + " was told and takes no alias traffic any more."
	}
	return where + "; " + former + " could not be reached: when it comes back it learns of epoch " +
		strconv.FormatUint(a.Epoch, 10) + " and stops taking alias traffic. Its events stay readable through its own namespace name."
}

func newAliasDeleteCmd() *cobra.Command {
	var release bool
	cmd := &cobra.Command{
		Use:   "delete NS/ALIAS",
		Short: "Delete an alias that is not paired (break the pairing or fail over first)",
		Long: `Delete an alias that is not paired (break the pairing or fail over first).

The alias name stays reserved in this region for the pairing it belonged to: only the same
namespace, a pairing whose primary is the former partner (it proves the pairing's link key),
or the node admin key can use it here again. --release drops the reservation too, or only
the reservation once the alias is deleted; it needs the admin key or the namespace's own
Manage rule.`,
		Args: exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			if release {
				if err := c.ReleaseAlias(cmd.Context(), ns, alias); err != nil {
					return err
				}
				return done(cmd, "released alias name "+alias+" of namespace "+ns+"; any namespace here may use it")
			}
			if err := c.DeleteAlias(cmd.Context(), ns, alias); err != nil {
				return err
			}
			return done(cmd, "deleted alias "+alias+" of namespace "+ns+"; the name stays reserved here for its pairing (--release drops that)")
		}),
	}
	cmd.Flags().BoolVar(&release, "release", false, "also drop the reservation of the alias name in this region")
	return cmd
}

func newAliasRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rules NS/ALIAS",
		Short: "List the shared access policies usable through an alias",
		Args:  exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			rs, err := c.ListAliasRules(cmd.Context(), ns, alias)
			if err != nil {
				return err
			}
			if rs == nil {
				rs = []client.AuthorizationRule{}
			}
			return showRules(cmd, rs, rs)
		}),
	}
}

func newAliasKeysCmd() *cobra.Command {
	var policy string
	cmd := &cobra.Command{
		Use:   "keys NS/ALIAS [--policy RULE]",
		Short: "Show a policy's keys and the alias connection strings made from them",
		Args:  exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			k, err := c.ListAliasKeys(cmd.Context(), ns, alias, policy)
			if err != nil {
				return err
			}
			return show(cmd, k, []string{"KEY", "VALUE"}, [][]string{
				{"keyName", k.KeyName}, {"primaryKey", k.PrimaryKey}, {"secondaryKey", k.SecondaryKey},
				{"aliasPrimaryConnectionString", k.AliasPrimaryConnectionString},
				{"aliasSecondaryConnectionString", k.AliasSecondaryConnectionString},
			})
		}),
	}
	cmd.Flags().StringVar(&policy, "policy", rootPolicy, "shared access policy (rule) name")
	return cmd
}

func newAliasConnectionStringCmd() *cobra.Command {
	var policy string
	var secondary bool
	cmd := &cobra.Command{
		Use:   "connection-string NS/ALIAS [--policy RULE] [--secondary]",
		Short: "Print an alias connection string (Endpoint=sb://ALIAS/…)",
		Long: `Print the alias connection string of a policy. Clients that use it follow the alias across
a failover. Kafka clients send it as the SASL PLAIN password of user $ConnectionString and may
bootstrap against either region's Kafka address: metadata answers the active region's broker.`,
		Args: exactArgs(1, "NS/ALIAS"),
		RunE: aliasRun(func(cmd *cobra.Command, c *client.Client, ns, alias string) error {
			k, err := c.ListAliasKeys(cmd.Context(), ns, alias, policy)
			if err != nil {
				return err
			}
			cs := k.AliasPrimaryConnectionString
			if secondary {
				cs = k.AliasSecondaryConnectionString
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]string{"connectionString": cs})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), cs)
			return err
		}),
	}
	cmd.Flags().StringVar(&policy, "policy", rootPolicy, "shared access policy (rule) name")
	cmd.Flags().BoolVar(&secondary, "secondary", false, "print the secondary key's connection string")
	return cmd
}

// showAlias prints one alias as field/value rows, or as JSON with -o json.
func showAlias(cmd *cobra.Command, a client.Alias) error {
	rows := [][]string{
		{"name", a.Name},
		{"namespace", a.Namespace + " in " + orDash(a.Region)},
		{"role", a.Role},
		{"provisioningState", a.ProvisioningState},
	}
	if a.Reason != "" {
		rows = append(rows, []string{"reason", a.Reason})
	}
	rows = append(rows,
		[]string{"partner", partnerText(a)},
		[]string{"active", activeText(a)},
		[]string{"epoch", strconv.FormatUint(a.Epoch, 10)},
		[]string{"pendingReplicationOperations", strconv.FormatInt(a.PendingReplicationOperations, 10)},
		[]string{"replicationLag", lagText(a)},
		[]string{"partnerReachable", reachText(a)},
	)
	if a.LastError != "" {
		rows = append(rows, []string{"lastError", a.LastError})
	}
	if a.Lost {
		rows = append(rows, []string{"lost", "true: a failover moved the alias away; this namespace takes no alias traffic"})
	}
	return show(cmd, a, []string{"FIELD", "VALUE"}, rows)
}

func partnerText(a client.Alias) string {
	if a.PartnerNamespace == "" {
		return "-"
	}
	s := a.PartnerNamespace
	if a.PartnerRegion != "" {
		s += " in " + a.PartnerRegion
	}
	if a.PartnerEndpoint != "" {
		s += " (" + a.PartnerEndpoint + ")"
	}
	return s
}

func activeText(a client.Alias) string {
	if a.ActiveNamespace == "" && a.ActiveRegion == "" {
		return "-"
	}
	return orDash(a.ActiveNamespace) + " in " + orDash(a.ActiveRegion)
}

func lagText(a client.Alias) string {
	return (time.Duration(a.ReplicationLagSeconds * float64(time.Second))).Round(time.Millisecond).String()
}

func reachText(a client.Alias) string {
	s := strconv.FormatBool(a.PartnerReachable)
	if !a.LastPartnerContact.IsZero() {
		s += " (last contact " + a.LastPartnerContact.Format(time.RFC3339) + ")"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
