package main

import (
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// With --tls a region runs with no plaintext Kafka listener and its Kafka port on
// --kafka-tls-addr; the restart command tandem dev prints keeps that and the addresses the
// region had.
func TestDevTLSRestartCommand(t *testing.T) {
	tl := &devTLS{caFile: "/d/tls/ca.pem", certFile: "/d/tls/node.pem", keyFile: "/d/tls/node-key.pem"}
	ready := func(line string) nodeproc.Ready {
		r, ok := nodeproc.ParseReady(line)
		if !ok {
			t.Fatalf("%q is not a ready line", line)
		}
		return r
	}
	c := &devChild{region: "east", tls: tl, spec: devSpec("tandem", "east", "/d", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", tl),
		ready: ready("tandem ready region=east kafka=off http=127.0.0.1:4002 amqp=127.0.0.1:4003 amqps=off kafka-tls=127.0.0.1:4001 api=https")}
	c.kafkaAddr, c.httpAddr = clientKafka(c.ready), c.ready.HTTP
	got := c.restartCommand()
	want := "tandem serve --region east --tls-cert /d/tls/node.pem --tls-key /d/tls/node-key.pem --tls-ca /d/tls/ca.pem " +
		"--data /d/east --kafka-addr '' --kafka-tls-addr 127.0.0.1:4001 --http-addr 127.0.0.1:4002 --amqp-addr 127.0.0.1:4003 --amqps-addr '' 2>>/d/east.log"
	if got != want {
		t.Errorf("restart command\n got %s\nwant %s", got, want)
	}
	if c.kafkaAddr != "127.0.0.1:4001" {
		t.Errorf("clients of a TLS region use Kafka at %s, want the TLS listener", c.kafkaAddr)
	}

	c = &devChild{region: "east", spec: devSpec("tandem", "east", "/d", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:5672", nil),
		ready: ready("tandem ready region=east kafka=127.0.0.1:4001 http=127.0.0.1:4002 amqp=127.0.0.1:5672")}
	c.kafkaAddr, c.httpAddr = clientKafka(c.ready), c.ready.HTTP
	if got := c.restartCommand(); got != "tandem serve --region east --data /d/east --kafka-addr 127.0.0.1:4001 --http-addr 127.0.0.1:4002 --amqp-addr 127.0.0.1:5672 2>>/d/east.log" {
		t.Errorf("restart command without TLS: %s", got)
	}
	c.kafkaAddr = "" // not ready yet: the addresses it was started with
	if got := c.restartCommand(); !strings.Contains(got, "--kafka-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --amqp-addr 127.0.0.1:5672 ") {
		t.Errorf("restart command before the ready line: %s", got)
	}
}
