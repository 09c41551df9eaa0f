package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Upgrading a single node's data directory in place to a one-node cluster: the metadata Store
// (<data>/meta) is carried into the cluster's RaftStore (<data>/meta-raft) by
// meta.UpgradeToRaft, and every partition log written by the single node gets a replica
// checkpoint at raft index 0 that ends at the log's end, so the ReplicatedPartition opened over
// it keeps every batch and its offsets and appends after them (without a checkpoint it would
// truncate the log to nothing: a replica only trusts what a checkpoint covers). The partition
// directories stay where they are: a hub's directory is named after its creation time, which
// the upgrade keeps. Once the member list is recorded (the metadata leader's first duty), the
// single member is placed as the only replica of every partition.

// upgradeSingleNode upgrades opts.DataDir when it holds a single node's metadata and no
// cluster metadata yet; checkSingleNodeData has refused anything but a one-node cluster.
func upgradeSingleNode(opts Options) error {
	storeDir, raftDir := filepath.Join(opts.DataDir, "meta"), filepath.Join(opts.DataDir, "meta-raft")
	single, err := meta.HoldsStore(storeDir)
	if err != nil || !single {
		return err
	}
	b := &Broker{opts: opts} // for the hubs' directory names
	return meta.UpgradeToRaft(storeDir, raftDir, opts.Logger, func(s *meta.State) error {
		for _, ns := range s.Namespaces() {
			hubs, _ := s.Hubs(ns)
			for _, name := range hubs {
				h, err := s.Hub(ns, name)
				if err != nil {
					return err
				}
				info := b.hubInfo(ns, h)
				for p := range h.PartitionCount {
					if err := checkpointSingleNodeLog(opts, info, p, b.partitionDir(info, p)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// checkpointSingleNodeLog writes the replica checkpoint of a partition log a single node
// wrote: applied index 0, the log's start and end, and the idempotent producers its batches
// show. A partition never opened has no directory and needs none. Running it again (after a
// crash, or after the single node wrote more) writes the checkpoint of the log as it is then.
func checkpointSingleNodeLog(opts Options, h HubInfo, id int32, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = seglog.OSFS{}
	}
	l, err := seglog.Open(seglog.Options{Dir: dir, SegmentBytes: opts.SegmentBytes, Fsync: opts.Fsync, FS: fsys,
		Logger: opts.Logger, Name: fmt.Sprintf("partition %d of %s/%s", id, h.Namespace, h.Name)})
	if err != nil {
		return fmt.Errorf("upgrading partition %d of %s/%s: %w", id, h.Namespace, h.Name, err)
	}
	p, err := openPartition(h.Namespace, h.Name, id, l)
	if err != nil {
		l.Close()
		return fmt.Errorf("upgrading partition %d of %s/%s: %w", id, h.Namespace, h.Name, err)
	}
	st := replicaState{nextOffset: l.EndOffset(), logStart: l.StartOffset(), lastAppendTime: -1,
		producers: producerRecords(p.mu.producers)}
	if st.nextOffset > st.logStart {
		st.epochs.assign(0, st.logStart) // a single node leads at epoch 0
	}
	err = l.Sync()
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = seglog.WriteFileDurable(fsys, filepath.Join(dir, CheckpointFile), st.encode())
	}
	if err != nil {
		return fmt.Errorf("upgrading partition %d of %s/%s: %w", id, h.Namespace, h.Name, err)
	}
	return nil
}

// checkNotClusterData refuses to run a single node on a cluster member's data directory: its
// metadata is in <data>/meta-raft, and a single node would start from an empty or outdated
// <data>/meta and take the member's partitions for orphans.
func checkNotClusterData(dataDir string) error {
	raftDir := filepath.Join(dataDir, "meta-raft")
	ok, err := meta.HoldsRaftStore(raftDir)
	if err != nil || !ok {
		return err
	}
	return errcode.New(errcode.Conflict,
		"data directory %s belongs to a cluster member (its metadata is in %s); start it with the --cluster and --node-id it ran with. "+
			"Going back from a cluster to a single node is not supported", dataDir, raftDir)
}
