package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func newNamespaceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "namespace", Aliases: []string{"ns"}, Short: "Create, list, show and delete namespaces (admin key)"}
	var o client.NamespaceOptions
	create := &cobra.Command{
		Use: "create NS", Short: "Create a namespace (or update its tier)", Args: exactArgs(1, "NS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			n, err := c.CreateNamespace(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			return showNamespaces(cmd, n, []client.Namespace{n})
		},
	}
	create.Flags().StringVar(&o.Tier, "tier", "", "tier: basic, standard (default), premium or dedicated")
	create.Flags().StringVar(&o.Cluster, "cluster", "", "dedicated cluster id")
	list := &cobra.Command{
		Use: "list", Short: "List namespaces", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			ns, err := c.ListNamespaces(cmd.Context())
			if err != nil {
				return err
			}
			return showNamespaces(cmd, ns, ns)
		},
	}
	showCmd := &cobra.Command{
		Use: "show NS", Short: "Show a namespace", Args: exactArgs(1, "NS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			n, err := c.GetNamespace(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return showNamespaces(cmd, n, []client.Namespace{n})
		},
	}
	del := &cobra.Command{
		Use: "delete NS", Short: "Delete a namespace with all its event hubs and events", Args: exactArgs(1, "NS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteNamespace(cmd.Context(), args[0]); err != nil {
				return err
			}
			return done(cmd, "deleted namespace "+args[0])
		},
	}
	cmd.AddCommand(create, list, showCmd, del)
	return cmd
}

func showNamespaces(cmd *cobra.Command, v any, ns []client.Namespace) error {
	rows := make([][]string, len(ns))
	for i, n := range ns {
		rows[i] = []string{n.Name, n.Tier, n.Region, strconv.Itoa(n.HubCount), n.DefaultAction, n.CreatedAt.Format(time.RFC3339)}
	}
	return show(cmd, v, []string{"NAME", "TIER", "REGION", "HUBS", "NETWORK", "CREATED"}, rows)
}

// hubSettings are the flags of hub create and hub update.
type hubSettings struct {
	partitions     int32
	retention      time.Duration
	retentionBytes int64
	maxEventBytes  int32
}

func hubFlags(cmd *cobra.Command) *hubSettings {
	v := &hubSettings{}
	f := cmd.Flags()
	f.Int32Var(&v.partitions, "partitions", 0, "partition count, 1 to 1024 (default 4; update may only grow it)")
	f.DurationVar(&v.retention, "retention", 0, "retention time, 1h to 2160h (default 24h)")
	f.Int64Var(&v.retentionBytes, "retention-bytes", 0, "retention size per partition in bytes (default unlimited)")
	f.Int32Var(&v.maxEventBytes, "max-event-bytes", 0, "maximum event size in bytes (default 1048576)")
	return v
}

func newHubCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "hub", Aliases: []string{"eventhub"}, Short: "Create, list, show, update and delete event hubs"}
	list := &cobra.Command{
		Use: "list NS", Short: "List the event hubs of a namespace", Args: exactArgs(1, "NS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			hs, err := c.ListHubs(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return showHubs(cmd, hs, hs)
		},
	}
	showCmd := &cobra.Command{
		Use: "show NS/HUB", Short: "Show an event hub (in a cluster with each partition's leader, epoch and replicas)", Args: exactArgs(1, "NS/HUB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := splitPath(args[0], "NS/HUB")
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			h, err := c.GetHub(cmd.Context(), p[0], p[1])
			if err != nil {
				return err
			}
			if err := showHubs(cmd, h, []client.Hub{h}); err != nil || jsonOutput(cmd) || h.Replicas == nil {
				return err
			}
			return printPartitionReplicas(cmd.OutOrStdout(), h.Replicas) // in a cluster
		},
	}
	del := &cobra.Command{
		Use: "delete NS/HUB", Short: "Delete an event hub and its events", Args: exactArgs(1, "NS/HUB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := splitPath(args[0], "NS/HUB")
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteHub(cmd.Context(), p[0], p[1]); err != nil {
				return err
			}
			return done(cmd, "deleted event hub "+args[0])
		},
	}
	cmd.AddCommand(newHubWriteCmd("create NS/HUB", "Create an event hub (fails if it exists; change one with hub update)", false),
		newHubWriteCmd("update NS/HUB", "Change an event hub's partitions, retention or max event size", true),
		list, showCmd, del)
	return cmd
}

// newHubWriteCmd is hub create, or hub update when update is set.
func newHubWriteCmd(use, short string, update bool) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: exactArgs(1, "NS/HUB")}
	v := hubFlags(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		p, err := splitPath(args[0], "NS/HUB")
		if err != nil {
			return err
		}
		if cmd.Flags().Changed("partitions") && v.partitions < 1 {
			return errcode.New(errcode.InvalidArgument, "--partitions %d is out of range; an event hub has 1 to 1024 partitions", v.partitions)
		}
		cl, err := newClient(cmd)
		if err != nil {
			return err
		}
		o := client.HubOptions{Partitions: v.partitions, Retention: v.retention, RetentionBytes: v.retentionBytes, MaxEventBytes: v.maxEventBytes}
		var h client.Hub
		if update {
			h, err = cl.UpdateHub(cmd.Context(), p[0], p[1], o)
		} else {
			h, err = cl.CreateNewHub(cmd.Context(), p[0], p[1], o) // refuses an existing hub: see hub update
		}
		if err != nil {
			return err
		}
		return showHubs(cmd, h, []client.Hub{h})
	}
	return c
}

func showHubs(cmd *cobra.Command, v any, hs []client.Hub) error {
	rows := make([][]string, len(hs))
	for i, h := range hs {
		rb := "unlimited"
		if h.RetentionBytes > 0 {
			rb = strconv.FormatInt(h.RetentionBytes, 10)
		}
		rows[i] = []string{h.Name, strconv.Itoa(int(h.Partitions)), h.Retention.String(), rb,
			strconv.Itoa(int(h.MaxEventBytes)), strings.Join(h.ConsumerGroups, ",")}
	}
	return show(cmd, v, []string{"NAME", "PARTITIONS", "RETENTION", "RETENTION-BYTES", "MAX-EVENT-BYTES", "GROUPS"}, rows)
}

func newGroupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "group", Aliases: []string{"consumergroup"}, Short: "Create, list, show and delete consumer groups"}
	var metadata string
	run := func(form string, fn func(cmd *cobra.Command, c *client.Client, p []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			p, err := splitPath(args[0], form)
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			return fn(cmd, c, p)
		}
	}
	create := &cobra.Command{Use: "create NS/HUB/GROUP", Short: "Create a consumer group", Args: exactArgs(1, "NS/HUB/GROUP"),
		RunE: run("NS/HUB/GROUP", func(cmd *cobra.Command, c *client.Client, p []string) error {
			g, err := c.CreateConsumerGroup(cmd.Context(), p[0], p[1], p[2], metadata)
			if err != nil {
				return err
			}
			return showGroups(cmd, g, []client.ConsumerGroup{g})
		})}
	create.Flags().StringVar(&metadata, "metadata", "", "user metadata to store with the group")
	list := &cobra.Command{Use: "list NS/HUB", Short: "List the consumer groups of an event hub", Args: exactArgs(1, "NS/HUB"),
		RunE: run("NS/HUB", func(cmd *cobra.Command, c *client.Client, p []string) error {
			gs, err := c.ListConsumerGroups(cmd.Context(), p[0], p[1])
			if err != nil {
				return err
			}
			return showGroups(cmd, gs, gs)
		})}
	showCmd := &cobra.Command{Use: "show NS/HUB/GROUP", Short: "Show a consumer group and its checkpoints", Args: exactArgs(1, "NS/HUB/GROUP"),
		RunE: run("NS/HUB/GROUP", func(cmd *cobra.Command, c *client.Client, p []string) error {
			g, err := c.GetConsumerGroup(cmd.Context(), p[0], p[1], p[2])
			if err != nil {
				return err
			}
			cps, err := c.GetCheckpoints(cmd.Context(), p[0], p[1], p[2])
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"group": g, "checkpoints": cps})
			}
			if err := showGroups(cmd, g, []client.ConsumerGroup{g}); err != nil {
				return err
			}
			rows := make([][]string, len(cps))
			for i, cp := range cps {
				rows[i] = []string{strconv.Itoa(int(cp.PartitionID)), strconv.FormatInt(cp.Offset, 10), cp.Metadata, cp.CommitTime.Format(time.RFC3339)}
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return printTable(cmd.OutOrStdout(), []string{"PARTITION", "CHECKPOINT", "METADATA", "COMMITTED"}, rows)
		})}
	del := &cobra.Command{Use: "delete NS/HUB/GROUP", Short: "Delete a consumer group and its checkpoints", Args: exactArgs(1, "NS/HUB/GROUP"),
		RunE: run("NS/HUB/GROUP", func(cmd *cobra.Command, c *client.Client, p []string) error {
			if err := c.DeleteConsumerGroup(cmd.Context(), p[0], p[1], p[2]); err != nil {
				return err
			}
			return done(cmd, "deleted consumer group "+strings.Join(p, "/"))
		})}
	cmd.AddCommand(create, list, showCmd, del)
	return cmd
}

func showGroups(cmd *cobra.Command, v any, gs []client.ConsumerGroup) error {
	rows := make([][]string, len(gs))
	for i, g := range gs {
		rows[i] = []string{g.Name, g.UserMetadata, g.CreatedAt.Format(time.RFC3339)}
	}
	return show(cmd, v, []string{"NAME", "METADATA", "CREATED"}, rows)
}
