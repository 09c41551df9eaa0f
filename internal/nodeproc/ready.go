package nodeproc

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

// Ready is what serve's ready line says: the node's region and the addresses it listens at.
// Without TLS the line is
//
//	tandem ready region=R kafka=HOST:PORT http=HOST:PORT amqp=HOST:PORT
//
// and with TLS it is
//
//	tandem ready region=R kafka=HOST:PORT http=HOST:PORT amqp=HOST:PORT amqps=HOST:PORT kafka-tls=HOST:PORT api=https
//
// a cluster member's line ends with " node=N" (its member id). A listener that is off is "off"
// (cmd/tandem's readyLine prints it; a test there checks this parser reads it). Lines of nodes
// from before the AMQP listener (no amqp=) parse too, with AMQP "".
type Ready struct {
	Region   string
	Kafka    string // the plaintext Kafka listener, or "off"
	HTTP     string // the API
	AMQP     string // the plaintext AMQP listener, or "off"
	AMQPS    string // with TLS the AMQP-over-TLS listener or "off"; "" without TLS
	KafkaTLS string // with TLS the TLS Kafka listener or "off"; "" without TLS
	TLS      bool   // the line has the TLS form: the API is HTTPS
	Node     string // a cluster member's id; "" for a single node
}

var readyLine = regexp.MustCompile(`^tandem ready region=(\S+) kafka=(\S+) http=(\S+)(?: amqp=(\S+))?(?: amqps=(\S+))?` +
	`(?: kafka-tls=(\S+) api=https)?(?: node=(\d+))?$`)

// ParseReady reads a ready line (without its line end). ok is false for any other line.
func ParseReady(line string) (r Ready, ok bool) {
	m := readyLine.FindStringSubmatch(line)
	if m == nil {
		return Ready{}, false
	}
	r = Ready{Region: m[1], Kafka: m[2], HTTP: m[3], AMQP: m[4], AMQPS: m[5], KafkaTLS: m[6], Node: m[7]}
	r.TLS = m[6] != ""
	if r.AMQPS != "" && !r.TLS {
		return Ready{}, false // amqps= belongs to the TLS form
	}
	return r, true
}

// String is the ready line r was read from.
func (r Ready) String() string {
	s := "tandem ready region=" + r.Region + " kafka=" + r.Kafka + " http=" + r.HTTP
	if r.AMQP != "" {
		s += " amqp=" + r.AMQP
	}
	if r.AMQPS != "" {
		s += " amqps=" + r.AMQPS
	}
	if r.TLS {
		s += " kafka-tls=" + r.KafkaTLS + " api=https"
	}
	if r.Node != "" {
		s += " node=" + r.Node
	}
	return s
}

// Scheme is the API's scheme: https with TLS, else http.
func (r Ready) Scheme() string {
	if r.TLS {
		return "https"
	}
	return "http"
}

// URL is the API's base URL.
func (r Ready) URL() string { return r.Scheme() + "://" + r.HTTP }

// readyWriter is a node's stdout: it copies everything to the log and reports the first ready
// line. exec's copying goroutine calls Write; found is called once, from Write.
type readyWriter struct {
	log     io.Writer
	found   func(Ready)
	mu      sync.Mutex
	partial []byte
	seen    bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.log.Write(p) // a log that cannot be written must not stop the node
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(bytes.TrimRight(w.partial[:i], "\r"))
		w.partial = w.partial[i+1:]
		if r, ok := ParseReady(line); ok {
			w.seen, w.partial = true, nil
			w.found(r)
			return len(p), nil
		}
	}
}
