package nodeproc

import (
	"fmt"
	"strings"
)

// Listen are the listen addresses a node is started with. Each is a host:port (port 0 picks a
// free port), "off" to turn the listener off (the flag is given as ""), or "" to leave the
// flag out so serve's default applies. "off" is also what the ready line says of a listener
// that is off, so a Ready's addresses can be put back into a Listen unchanged.
type Listen struct {
	Kafka    string // --kafka-addr: the plaintext Kafka listener
	KafkaTLS string // --kafka-tls-addr: the TLS Kafka listener (with TLS settings in Args)
	HTTP     string // --http-addr: the HTTP API (HTTPS with TLS settings in Args)
	AMQP     string // --amqp-addr: the plaintext AMQP listener (serve's default is 127.0.0.1:5672)
	AMQPS    string // --amqps-addr: the AMQP-over-TLS listener (with TLS settings in Args)
}

// Loopback is a Listen with the plaintext Kafka listener, the API and the AMQP listener on
// free ports of 127.0.0.1.
func Loopback() Listen {
	return Listen{Kafka: "127.0.0.1:0", HTTP: "127.0.0.1:0", AMQP: "127.0.0.1:0"}
}

// Spec describes a node: how to run `tandem serve` for it and where its files go.
type Spec struct {
	// Name says which node this is in messages, such as "region east".
	Name string
	// Exe is the tandem executable.
	Exe string
	// Wrap, when set, is a command that runs the node's command line: the process started is
	// Wrap[0] with arguments Wrap[1:] followed by Exe and its arguments. It must exec the node
	// in the same process (as `sh -c 'ulimit -n 256 && exec "$@"'` or prlimit do), so that
	// the pid is the node's.
	Wrap []string
	// Args are serve's flags other than the data directory and the listen addresses (which
	// Start refuses here: they are DataDir and Listen, so a restart can reuse the ports).
	Args []string
	// DataDir is serve's --data.
	DataDir string
	// Listen are the listen addresses.
	Listen Listen
	// Log is the file that receives the node's stdout and stderr; Start truncates it.
	Log string
}

// ownFlags are the serve flags a Spec holds in fields rather than in Args.
var ownFlags = []string{"--data", "--kafka-addr", "--kafka-tls-addr", "--http-addr", "--amqp-addr", "--amqps-addr"}

// check reports what is wrong with the spec, or nil.
func (s Spec) check() error {
	if s.Exe == "" {
		return fmt.Errorf("node %s: no executable given", s.Name)
	}
	if s.Log == "" {
		return fmt.Errorf("node %s: no log file given", s.Name)
	}
	for _, a := range s.Args {
		for _, f := range ownFlags {
			if a == f || strings.HasPrefix(a, f+"=") {
				return fmt.Errorf("node %s: %s is in Args; give it as the Spec's DataDir or Listen so a restart keeps it", s.Name, f)
			}
		}
	}
	return nil
}

// Command is the node's command line: Wrap, Exe, then serve Args --data DataDir and the
// listen flags.
func (s Spec) Command() []string {
	argv := append(append([]string{}, s.Wrap...), s.Exe, "serve")
	argv = append(argv, s.Args...)
	if s.DataDir != "" {
		argv = append(argv, "--data", s.DataDir)
	}
	for _, f := range []struct{ flag, addr string }{
		{"--kafka-addr", s.Listen.Kafka}, {"--kafka-tls-addr", s.Listen.KafkaTLS}, {"--http-addr", s.Listen.HTTP},
		{"--amqp-addr", s.Listen.AMQP}, {"--amqps-addr", s.Listen.AMQPS},
	} {
		switch f.addr {
		case "":
		case "off":
			argv = append(argv, f.flag, "")
		default:
			argv = append(argv, f.flag, f.addr)
		}
	}
	return argv
}

// WithAddrs is the spec with the listen addresses of a ready line, so that a node started from
// it binds the ports the ready line reported (a restart on the same ports). A listener the
// ready line does not mention keeps the spec's address.
func (s Spec) WithAddrs(r Ready) Spec {
	for _, a := range []struct {
		dst *string
		src string
	}{{&s.Listen.Kafka, r.Kafka}, {&s.Listen.KafkaTLS, r.KafkaTLS}, {&s.Listen.HTTP, r.HTTP},
		{&s.Listen.AMQP, r.AMQP}, {&s.Listen.AMQPS, r.AMQPS}} {
		if a.src != "" {
			*a.dst = a.src
		}
	}
	s.Args = append([]string(nil), s.Args...)
	s.Wrap = append([]string(nil), s.Wrap...)
	return s
}
