package main

import (
	"os/exec"
	"strings"
	"testing"
)

// With --tls a region runs with no plaintext Kafka listener and its Kafka port on
// --kafka-tls-addr; the restart command tandem dev prints keeps that and the addresses the
// region had.
func TestDevTLSRestartCommand(t *testing.T) {
	tl := &devTLS{caFile: "/d/tls/ca.pem", certFile: "/d/tls/node.pem", keyFile: "/d/tls/node-key.pem"}
	c := &devChild{region: "east", logPath: "/d/east.log", tls: tl, kafkaAddr: "127.0.0.1:4001", httpAddr: "127.0.0.1:4002",
		cmd: exec.Command("tandem", append([]string{"serve", "--region", "east", "--data", "/d/east"},
			tl.serveArgs("127.0.0.1:0", "127.0.0.1:0")...)...)}
	got := c.restartCommand()
	want := "tandem serve --region east --data /d/east --kafka-addr '' --kafka-tls-addr 127.0.0.1:4001 --http-addr 127.0.0.1:4002 " +
		"--tls-cert /d/tls/node.pem --tls-key /d/tls/node-key.pem --tls-ca /d/tls/ca.pem 2>>/d/east.log"
	if got != want {
		t.Errorf("restart command\n got %s\nwant %s", got, want)
	}
	c.tls = nil
	c.cmd = exec.Command("tandem", append([]string{"serve"}, (*devTLS)(nil).serveArgs("127.0.0.1:0", "127.0.0.1:0")...)...)
	if got := c.restartCommand(); !strings.HasPrefix(got, "tandem serve --kafka-addr 127.0.0.1:4001 --http-addr 127.0.0.1:4002 2>>") {
		t.Errorf("restart command without TLS: %s", got)
	}
}
