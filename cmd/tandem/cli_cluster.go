package main

// tandem cluster status: a region's nodes, metadata raft state and partition health (GET
// /cluster), exiting non-zero when anything is wrong so scripts can wait on it.

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Show a region's nodes and their health"}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the region's nodes, the metadata leader and partition health; exit non-zero when unhealthy",
		Long: `Ask the node at --server for its region's status: every node (id, name, zone, raft address,
the Kafka and HTTP endpoints it recorded, whether the metadata leader hears from it, how many
partitions it leads), the metadata group's leader, term, commit and applied index, and the
partitions in total, under-replicated and without a leader. The node asks the others for
their part; a node that does not answer is named.

The last line is HEALTHY, or UNHEALTHY followed by what is wrong; the exit code is then
non-zero (under-replicated or leaderless partitions, no metadata leader, a node unreachable
or not answering), so a script can wait for a region:

  until tandem cluster status >/dev/null; do sleep 1; done

A single node answers too: one node, no raft, always the metadata leader.`,
		Example: `  tandem cluster status
  tandem --server http://127.0.0.1:8081 cluster status -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			st, err := c.ClusterStatus(cmd.Context())
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				if err := printJSON(cmd.OutOrStdout(), st); err != nil {
					return err
				}
			} else if err := printClusterStatus(cmd.OutOrStdout(), st); err != nil {
				return err
			}
			if probs := st.Problems(); len(probs) > 0 {
				return errcode.New(errcode.Unavailable, "region %s is unhealthy: %s", orDash(st.Region), strings.Join(probs, "; "))
			}
			return nil
		},
	}
	cmd.AddCommand(status)
	return cmd
}

// printClusterStatus writes the status as tables, like kafka-metadata-quorum describe
// --status and rpk cluster health, ending with HEALTHY or UNHEALTHY.
func printClusterStatus(w io.Writer, st client.ClusterStatus) error {
	var b strings.Builder
	mode := "single node, no raft"
	if st.Clustered {
		mode = fmt.Sprintf("%d nodes", len(st.Nodes))
	}
	fmt.Fprintf(&b, "Region %s (%s), answered by node %d\n", orDash(st.Region), mode, st.NodeID)
	leader := "none"
	if st.MetadataLeader != 0 {
		leader = strconv.FormatUint(st.MetadataLeader, 10)
	}
	fmt.Fprintf(&b, "Metadata: leader %s, term %d, commit %d, applied %d\n\n", leader, st.Metadata.Term, st.Metadata.Commit, st.Metadata.Applied)
	rows := make([][]string, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		role := ""
		if n.ID == st.MetadataLeader {
			role = "metadata leader"
		}
		rows = append(rows, []string{strconv.FormatUint(n.ID, 10), orDash(n.Name), orDash(n.Zone), orDash(n.RaftAddress),
			orDash(kafkaEndpoint(n)), orDash(n.HTTP), reachability(n), strconv.Itoa(n.LeaderOf), orDash(role)})
	}
	printTable(&b, []string{"ID", "NAME", "ZONE", "RAFT", "KAFKA", "HTTP", "REACHABLE", "LEADS", "ROLE"}, rows)
	p := st.Partitions
	fmt.Fprintf(&b, "\nPartitions: %d total, %d under-replicated, %d without a leader (%s view)\n",
		p.Total, p.UnderReplicated, p.Leaderless, orDash(p.Scope))
	if probs := st.Problems(); len(probs) > 0 {
		fmt.Fprintf(&b, "UNHEALTHY\n")
		for _, pr := range probs {
			fmt.Fprintf(&b, "  - %s\n", pr)
		}
	} else {
		fmt.Fprintf(&b, "HEALTHY\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// kafkaEndpoint is the node's plaintext Kafka listener, else its TLS one.
func kafkaEndpoint(n client.ClusterNodeStatus) string {
	if n.Kafka != "" {
		return n.Kafka
	}
	return n.KafkaTLS
}

// reachability says whether the node answered and the metadata leader hears from it.
func reachability(n client.ClusterNodeStatus) string {
	silent := n.Answered != nil && !*n.Answered
	switch {
	case n.Reachable == nil && silent:
		return "no answer"
	case n.Reachable == nil:
		return "unknown"
	case *n.Reachable && silent:
		return "raft only" // the metadata leader hears it, but its API did not answer
	case *n.Reachable:
		return "yes"
	}
	return "no"
}

// printPartitionReplicas writes an event hub's partitions in a cluster: leader, epoch,
// replicas and in-sync replicas (known on the leader only).
func printPartitionReplicas(w io.Writer, ps []client.PartitionReplicas) error {
	ids := func(v []int32) string {
		if v == nil {
			return "-"
		}
		s := make([]string, len(v))
		for i, id := range v {
			s[i] = strconv.Itoa(int(id))
		}
		return strings.Join(s, ",")
	}
	rows := make([][]string, len(ps))
	for i, p := range ps {
		leader, epoch := "none", "-"
		if p.Leader >= 0 {
			leader = strconv.Itoa(int(p.Leader))
		}
		if p.LeaderEpoch >= 0 {
			epoch = strconv.Itoa(int(p.LeaderEpoch))
		}
		rows[i] = []string{p.PartitionID, leader, epoch, ids(p.Replicas), ids(p.InSyncReplicas)}
	}
	fmt.Fprintln(w)
	return printTable(w, []string{"PARTITION", "LEADER", "EPOCH", "REPLICAS", "IN-SYNC"}, rows)
}
