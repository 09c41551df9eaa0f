package meta

// legacyCommands is a metadata log as code from before placement wrote it (no ClusterMembers,
// no incarnations): testdata/legacy-log.jsonl is its encoding and
// testdata/legacy-snapshot.json the snapshot that code wrote after applying it.
func legacyCommands() []Command {
	const other = "billing-ns"
	return []Command{
		CreateNamespace{Namespace: ns, RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0},
		CreateNamespace{Namespace: other, RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0},
		CreateHub{Namespace: ns, Hub: "orders", PartitionCount: 4, Time: t0},
		CreateHub{Namespace: other, Hub: "invoices", PartitionCount: 2, Time: t0},
		CreateHub{Namespace: ns, Hub: "audit", PartitionCount: 1, Time: t0},
		UpdateHub{Namespace: ns, Hub: "orders", PartitionCount: 6, Time: t1},
		CreateHub{Namespace: ns, Hub: "gone", PartitionCount: 3, Time: t0},
		DeleteHub{Namespace: ns, Hub: "gone"},
		CreateGroup{Namespace: ns, Hub: "orders", Group: "billing", Time: t1},
	}
}
