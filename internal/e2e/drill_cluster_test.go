package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// faultDrillReport is the part of `tandem drill --nodes 3 --fault node|zone -o json` the test
// checks.
type faultDrillReport struct {
	Fault         string             `json:"fault"`
	Nodes         int                `json:"nodesPerRegion"`
	Killed        []string           `json:"killed"`
	Sent          int64              `json:"recordsSent"`
	Acked         int64              `json:"recordsAcknowledged"`
	Failed        int64              `json:"recordsFailed"`
	Read          int64              `json:"recordsReadBack"`
	Lost          int64              `json:"recordsLost"`
	Gap           float64            `json:"clientGapSeconds"`
	LeaderSeconds map[string]float64 `json:"metadataLeaderSeconds"`
	RejoinSeconds map[string]float64 `json:"rejoinSeconds"`
	Timeline      []string           `json:"timeline"`
}

// TestDrillClusterFaults runs `tandem drill --nodes 3` as a user does, with two 3-node regions
// of real processes: --fault node kills east's metadata leader, --fault zone kills zone a's
// node in both regions, while a Kafka producer writes through the alias. No failover: the
// regions carry on, the killed nodes restart and rejoin, and every acknowledged record is
// read back.
func TestDrillClusterFaults(t *testing.T) {
	for _, tc := range []struct {
		fault  string
		killed []string // prefixes of the killed nodes' descriptions
	}{
		{"node", []string{"east-"}},
		{"zone", []string{"east-a ", "west-a "}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(tandemBin, "drill", "--nodes", "3", "--fault", tc.fault, "--dir", filepath.Join(dir, "drill"), "--keep",
				"--steady", "4s", "--outage", "5s", "--rate", "200", "--timeout", "4m", "-o", "json")
			var out bytes.Buffer
			errf, err := os.Create(filepath.Join(dir, "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer errf.Close()
			cmd.Stdout, cmd.Stderr = &out, errf
			runErr := cmd.Run()
			progress, _ := os.ReadFile(errf.Name())
			var rep faultDrillReport
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("tandem drill (%v) printed no JSON report: %v\nstdout:\n%s\nstderr:\n%s", runErr, err, out.String(), progress)
			}
			if runErr != nil {
				t.Fatalf("tandem drill failed: %v\nreport:\n%s\nstderr:\n%s", runErr, out.String(), progress)
			}
			t.Logf("drill --fault %s: killed %v; client gap %.2fs; metadata leader %v; rejoin %v; %d of %d acknowledged, %d read back",
				tc.fault, rep.Killed, rep.Gap, rep.LeaderSeconds, rep.RejoinSeconds, rep.Acked, rep.Sent, rep.Read)
			switch {
			case rep.Fault != tc.fault || rep.Nodes != 3:
				t.Fatalf("the report says fault %q with %d nodes per region", rep.Fault, rep.Nodes)
			case len(rep.Killed) != len(tc.killed):
				t.Fatalf("killed %v, want %d nodes", rep.Killed, len(tc.killed))
			case rep.Acked < 1000 || rep.Acked != rep.Sent:
				t.Fatalf("%d of %d records acknowledged: too little load, or some never answered", rep.Acked, rep.Sent)
			case rep.Lost != 0 || rep.Failed != 0:
				t.Fatalf("%d acknowledged records lost, %d failed", rep.Lost, rep.Failed)
			case len(rep.RejoinSeconds) != len(tc.killed) || len(rep.LeaderSeconds) != len(tc.killed):
				t.Fatalf("the drill did not measure every region's leader election and rejoin: %+v", rep)
			}
			for i, k := range rep.Killed {
				if !strings.HasPrefix(k, tc.killed[i]) {
					t.Errorf("killed %q, want a node named %s…", k, tc.killed[i])
				}
			}
		})
	}
}
