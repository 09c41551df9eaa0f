package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ConnLimits bound what one HTTP listener gives its clients: time to send a request, time
// to read an answer, idle keep-alive time, header size and connections open at once.
type ConnLimits struct {
	ReadHeaderTimeout time.Duration // request line and headers
	ReadTimeout       time.Duration // the whole request, body included: a trickled body is cut off
	WriteTimeout      time.Duration // the answer; long-polls get their wait on top (see longPollDeadlines)
	IdleTimeout       time.Duration // a keep-alive connection between requests
	MaxHeaderBytes    int
	MaxConns          int // connections open at once; 0 = unlimited
}

// DefaultConnLimits are the limits of `tandem serve` unless flags change them.
var DefaultConnLimits = ConnLimits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       60 * time.Second,
	WriteTimeout:      60 * time.Second,
	IdleTimeout:       120 * time.Second,
	MaxHeaderBytes:    64 << 10,
	MaxConns:          4096,
}

// maxLongPoll is the longest wait a request may ask for: the receive limit (the geo-DR
// feed's, one minute, is shorter).
const maxLongPoll = maxReceiveWait

// NewHTTPServer returns an http.Server for h with l's timeouts. Long-poll requests (a
// ?wait= duration) get their read and write deadlines moved by the wait they ask for. The
// server's accept loop retries temporary errors (EMFILE, ENFILE) with back-off, logging them
// through logger.
func NewHTTPServer(h http.Handler, l ConnLimits, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Handler:           longPollDeadlines(h, l),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
	}
}

// longPollDeadlines gives a request that asks to wait (?wait=5m on a receive, the geo-DR
// feed's ?wait=) that long on top of the read and write timeouts. Without it the server's
// ReadTimeout would cancel a long-poll's context and WriteTimeout would cut its answer.
func longPollDeadlines(h http.Handler, l ConnLimits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.RawQuery != "" {
			if d, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil && d > 0 {
				d = min(d, maxLongPoll)
				rc := http.NewResponseController(w)
				now := time.Now()
				if l.ReadTimeout > 0 {
					rc.SetReadDeadline(now.Add(d + l.ReadTimeout))
				}
				if l.WriteTimeout > 0 {
					rc.SetWriteDeadline(now.Add(d + l.WriteTimeout))
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// LimitListener returns a listener that holds at most n accepted connections open at once:
// Accept waits for one to close before it takes the next from the kernel's backlog, as
// golang.org/x/net/netutil.LimitListener does. n <= 0 returns l unchanged. Accept errors are
// returned as they are, so http.Server still retries temporary ones.
func LimitListener(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its listener slot back once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
