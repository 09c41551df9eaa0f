package raftnet

import (
	"bytes"
	"crypto/rand"
	"net"
	"testing"
)

// runHandshake runs both sides over a pipe and returns their results.
func runHandshake(t *testing.T, dialer, listener handshaker, peer uint64) (dialErr error, from uint64, acceptErr error) {
	t.Helper()
	c, s := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		from, acceptErr = listener.accept(s, newFrameReader(s))
		s.Close()
	}()
	dialErr = dialer.dial(c, newFrameReader(c), peer)
	c.Close()
	<-done
	return dialErr, from, acceptErr
}

func TestHandshake(t *testing.T) {
	other := bytes.Repeat([]byte("z"), 32)
	for _, tc := range []struct {
		name               string
		dialer, listener   handshaker
		peer               uint64
		dialRsn, acceptRsn string // "" = success
	}{
		{"same secret", handshaker{1, testSecret, rand.Reader}, handshaker{2, testSecret, rand.Reader}, 2, "", ""},
		{"dialer has another secret", handshaker{1, other, rand.Reader}, handshaker{2, testSecret, rand.Reader}, 2, "refused", "bad_mac"},
		{"listener has another secret", handshaker{1, testSecret, rand.Reader}, handshaker{2, other, rand.Reader}, 2, "refused", "bad_mac"},
		{"dialled the wrong node", handshaker{1, testSecret, rand.Reader}, handshaker{2, testSecret, rand.Reader}, 3, "io", "wrong_node"},
		{"dialer claims the listener's id", handshaker{2, testSecret, rand.Reader}, handshaker{2, testSecret, rand.Reader}, 2, "io", "wrong_node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dialErr, from, acceptErr := runHandshake(t, tc.dialer, tc.listener, tc.peer)
			if tc.acceptRsn == "" {
				if dialErr != nil || acceptErr != nil || from != tc.dialer.self {
					t.Fatalf("dial: %v, accept: %v, from %d", dialErr, acceptErr, from)
				}
				return
			}
			if acceptErr == nil || reasonOf(acceptErr) != tc.acceptRsn {
				t.Fatalf("accept: %v (%s), want %s", acceptErr, reasonOf(acceptErr), tc.acceptRsn)
			}
			if dialErr == nil || reasonOf(dialErr) != tc.dialRsn {
				t.Fatalf("dial: %v (%s), want %s", dialErr, reasonOf(dialErr), tc.dialRsn)
			}
		})
	}
}

// The MAC binds both ids, both nonces and the side: changing any one changes it.
func TestMACBindsEverything(t *testing.T) {
	var nc, ns [nonceLen]byte
	base := computeMAC(testSecret, labelClient, 1, 2, &nc, &ns)
	nc2 := nc
	nc2[0] = 1
	ns2 := ns
	ns2[31] = 1
	for name, m := range map[string][macLen]byte{
		"label":  computeMAC(testSecret, labelServer, 1, 2, &nc, &ns),
		"client": computeMAC(testSecret, labelClient, 3, 2, &nc, &ns),
		"server": computeMAC(testSecret, labelClient, 1, 3, &nc, &ns),
		"nonceC": computeMAC(testSecret, labelClient, 1, 2, &nc2, &ns),
		"nonceS": computeMAC(testSecret, labelClient, 1, 2, &nc, &ns2),
		"secret": computeMAC(append([]byte("x"), testSecret...), labelClient, 1, 2, &nc, &ns),
	} {
		if m == base {
			t.Errorf("changing the %s does not change the MAC", name)
		}
	}
}
