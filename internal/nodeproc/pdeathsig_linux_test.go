package nodeproc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// supervisorEnv, when set to a JSON Spec, makes the test binary a supervisor (runSupervisor)
// instead of running the tests.
const supervisorEnv = "TANDEM_NODEPROC_SUPERVISOR"

// runSupervisor starts the node of the Spec in supervisorEnv, prints its pid once it is ready,
// and waits to be killed.
func runSupervisor() int {
	var spec Spec
	if err := json.Unmarshal([]byte(os.Getenv(supervisorEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	p, err := Start(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := p.WaitReady(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err, p.Logs())
		return 2
	}
	fmt.Printf("node %d\n", p.Pid())
	select {}
}

// TestNodeEndsWithItsSupervisor: a supervisor killed with SIGKILL (tandem dev, a test binary at
// its timeout) does not leave its node running: the kernel sends the node SIGTERM.
func TestNodeEndsWithItsSupervisor(t *testing.T) {
	spec, err := json.Marshal(testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	sup := exec.Command(os.Args[0], "-test.run", "^$")
	sup.Env = append(os.Environ(), supervisorEnv+"="+string(spec))
	sup.Stderr = os.Stderr
	out, err := sup.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		sup.Process.Kill()
		sup.Wait()
		t.Fatalf("the supervisor printed no node pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "node "))
	if err != nil {
		t.Fatalf("supervisor said %q", line)
	}
	if err := sup.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sup.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("node %d still runs 60s after its supervisor was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid is a process that has not exited (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
