package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// rootPolicy is the policy every namespace is created with.
const rootPolicy = "RootManageSharedAccessKey"

func newRuleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rule", Aliases: []string{"policy"},
		Short: "Manage shared access policies (authorization rules) of a namespace or an event hub"}
	run := func(fn func(cmd *cobra.Command, c *client.Client, ns, hub string, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			ns, hub, err := nsAndHub(args[0])
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			return fn(cmd, c, ns, hub, args[1:])
		}
	}
	var rights []string
	create := &cobra.Command{Use: "create NS[/HUB] RULE --rights Send,Listen", Short: "Create or update a rule",
		Args: exactArgs(2, "NS[/HUB] RULE"),
		RunE: run(func(cmd *cobra.Command, c *client.Client, ns, hub string, args []string) error {
			rs, err := auth.ParseRights(rights...)
			if err != nil {
				return err
			}
			names := make([]string, len(rs))
			for i, r := range rs {
				names[i] = string(r)
			}
			r, err := c.PutAuthorizationRule(cmd.Context(), ns, hub, args[0], names)
			if err != nil {
				return err
			}
			return showRules(cmd, r, []client.AuthorizationRule{r})
		})}
	create.Flags().StringSliceVar(&rights, "rights", nil, "rights: Manage, Send, Listen (comma-separated or repeated)")
	list := &cobra.Command{Use: "list NS[/HUB]", Short: "List rules", Args: exactArgs(1, "NS[/HUB]"),
		RunE: run(func(cmd *cobra.Command, c *client.Client, ns, hub string, _ []string) error {
			rs, err := c.ListAuthorizationRules(cmd.Context(), ns, hub)
			if err != nil {
				return err
			}
			return showRules(cmd, rs, rs)
		})}
	del := &cobra.Command{Use: "delete NS[/HUB] RULE", Short: "Delete a rule; its keys stop working", Args: exactArgs(2, "NS[/HUB] RULE"),
		RunE: run(func(cmd *cobra.Command, c *client.Client, ns, hub string, args []string) error {
			if err := c.DeleteAuthorizationRule(cmd.Context(), ns, hub, args[0]); err != nil {
				return err
			}
			return done(cmd, "deleted rule "+args[0])
		})}
	keys := &cobra.Command{Use: "keys NS[/HUB] RULE", Short: "Show a rule's keys and connection strings", Args: exactArgs(2, "NS[/HUB] RULE"),
		RunE: run(func(cmd *cobra.Command, c *client.Client, ns, hub string, args []string) error {
			k, err := c.ListKeys(cmd.Context(), ns, hub, args[0])
			if err != nil {
				return err
			}
			return showKeys(cmd, k)
		})}
	var keyType string
	regen := &cobra.Command{Use: "regenerate NS[/HUB] RULE [--key-type primary|secondary]", Short: "Replace one of a rule's keys",
		Args: exactArgs(2, "NS[/HUB] RULE"),
		RunE: run(func(cmd *cobra.Command, c *client.Client, ns, hub string, args []string) error {
			kt := map[string]string{"primary": "PrimaryKey", "secondary": "SecondaryKey"}[strings.ToLower(keyType)]
			if kt == "" {
				return errcode.New(errcode.InvalidArgument, "--key-type %q is invalid; use primary or secondary", keyType)
			}
			k, err := c.RegenerateKeys(cmd.Context(), ns, hub, args[0], kt)
			if err != nil {
				return err
			}
			return showKeys(cmd, k)
		})}
	regen.Flags().StringVar(&keyType, "key-type", "primary", "key to replace: primary or secondary")
	cmd.AddCommand(create, list, del, keys, regen)
	return cmd
}

func showRules(cmd *cobra.Command, v any, rs []client.AuthorizationRule) error {
	rows := make([][]string, len(rs))
	for i, r := range rs {
		rows[i] = []string{r.Name, strings.Join(r.Rights, ",")}
	}
	return show(cmd, v, []string{"NAME", "RIGHTS"}, rows)
}

func showKeys(cmd *cobra.Command, k client.Keys) error {
	return show(cmd, k, []string{"KEY", "VALUE"}, [][]string{
		{"keyName", k.KeyName}, {"primaryKey", k.PrimaryKey}, {"secondaryKey", k.SecondaryKey},
		{"primaryConnectionString", k.PrimaryConnectionString}, {"secondaryConnectionString", k.SecondaryConnectionString},
	})
}

func newConnectionStringCmd() *cobra.Command {
	var policy string
	var secondary, amqp bool
	cmd := &cobra.Command{
		Use:   "connection-string NS[/HUB] [--amqp]",
		Short: "Print a connection string for a namespace or an event hub",
		Long: `Print the primary connection string of a policy. For NS/HUB, a policy of the event hub is
used if it has one of that name, else the namespace's policy with EntityPath=HUB added.

The endpoint is sb://NS/: Kafka clients use it as the SASL PLAIN password (user
$ConnectionString) and reach the node through their bootstrap server setting.

With --amqp the string is for the Azure Event Hubs SDKs over plain AMQP, in the form of
the Event Hubs emulator's strings:
  Endpoint=sb://HOST:PORT/;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true
where HOST:PORT is the node's AMQP listener (tandem serve --amqp-addr). The SDKs dial that
address without TLS; the namespace is found from the key. UseDevelopmentEmulator is written as
lowercase true: the JavaScript SDK ignores any other spelling and would try TLS.`,
		Args: exactArgs(1, "NS[/HUB]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, hub, err := nsAndHub(args[0])
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			cs, err := connectionString(cmd, c, ns, hub, policy, secondary)
			if err != nil {
				return err
			}
			if amqp {
				server, _ := cmd.Flags().GetString("server")
				if cs, err = amqpConnectionString(cmd.Context(), c, server, cs); err != nil {
					return err
				}
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]string{"connectionString": cs})
			}
			_, err = cmd.OutOrStdout().Write([]byte(cs + "\n"))
			return err
		},
	}
	cmd.Flags().StringVar(&policy, "policy", rootPolicy, "shared access policy (rule) name")
	cmd.Flags().BoolVar(&secondary, "secondary", false, "print the secondary key's connection string")
	cmd.Flags().BoolVar(&amqp, "amqp", false, "print the string for the Event Hubs SDKs over plain AMQP: Endpoint=sb://<AMQP listener>/;…;UseDevelopmentEmulator=true")
	return cmd
}

func connectionString(cmd *cobra.Command, c *client.Client, ns, hub, policy string, secondary bool) (string, error) {
	pick := func(k client.Keys) string {
		if secondary {
			return k.SecondaryConnectionString
		}
		return k.PrimaryConnectionString
	}
	if hub != "" {
		k, err := c.ListKeys(cmd.Context(), ns, hub, policy)
		if err == nil {
			return pick(k), nil
		}
		if !errcode.Is(err, errcode.NotFound) {
			return "", err
		}
		if _, err := c.GetHub(cmd.Context(), ns, hub); err != nil {
			return "", err
		}
	}
	k, err := c.ListKeys(cmd.Context(), ns, "", policy)
	if err != nil {
		return "", err
	}
	cs := pick(k)
	if hub != "" {
		cs += ";EntityPath=" + hub
	}
	return cs, nil
}
