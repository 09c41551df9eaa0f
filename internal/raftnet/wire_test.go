package raftnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func readOne(t *testing.T, frame []byte, limit int) ([]byte, error) {
	t.Helper()
	return newFrameReader(bytes.NewReader(frame)).next(limit)
}

func TestFrameReaderRefusesBadFrames(t *testing.T) {
	good := hello{version: protocolVersion, from: 1, to: 2}.append(nil)
	flip := bytes.Clone(good)
	flip[len(flip)-1] ^= 1
	zero := make([]byte, frameHeaderLen)
	huge := binary.BigEndian.AppendUint32(nil, 1<<31)
	huge = append(huge, 0, 0, 0, 0)
	for _, tc := range []struct {
		name  string
		frame []byte
		limit int
		want  error
	}{
		{"good", good, handshakeFrameMax, nil},
		{"corrupt byte", flip, handshakeFrameMax, errChecksum},
		{"empty payload", zero, handshakeFrameMax, errFrameSize},
		{"over the limit", good, helloLen - 1, errFrameSize},
		{"huge claim", huge, DefaultMaxFrameBytes, errFrameSize},
		{"truncated header", good[:5], handshakeFrameMax, io.ErrUnexpectedEOF},
		{"truncated payload", good[:len(good)-3], handshakeFrameMax, io.ErrUnexpectedEOF},
		{"nothing", nil, handshakeFrameMax, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := readOne(t, tc.frame, tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil {
				if _, err := decodeHello(p); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// A peer that claims a frame at the cap and sends a few bytes makes the reader allocate
// about one chunk, not the claim.
func TestFrameReaderAllocatesAsBytesArrive(t *testing.T) {
	claim := binary.BigEndian.AppendUint32(nil, DefaultMaxFrameBytes)
	claim = append(claim, 0, 0, 0, 0)
	claim = append(claim, make([]byte, 1000)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := readOne(t, claim, DefaultMaxFrameBytes); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 10*(frameChunk+64<<10) {
		t.Fatalf("10 reads of a 1000-byte frame that claims %d bytes allocated %d bytes", DefaultMaxFrameBytes, got)
	}
}

func TestHandshakeFramesRoundTrip(t *testing.T) {
	var n [nonceLen]byte
	copy(n[:], strings.Repeat("n", nonceLen))
	var m [macLen]byte
	copy(m[:], strings.Repeat("m", macLen))
	h := hello{version: 1, from: 7, to: 1 << 60, nonce: n}
	c := challenge{from: 9, nonce: n}
	a := auth{mac: m}
	for _, tc := range []struct {
		frame  []byte
		decode func([]byte) (any, error)
		want   any
	}{
		{h.append(nil), func(p []byte) (any, error) { return decodeHello(p) }, h},
		{c.append(nil), func(p []byte) (any, error) { return decodeChallenge(p) }, c},
		{a.append(nil, kindAuth), func(p []byte) (any, error) { return decodeAuth(p, kindAuth) }, a},
		{a.append(nil, kindWelcome), func(p []byte) (any, error) { return decodeAuth(p, kindWelcome) }, a},
	} {
		p, err := readOne(t, tc.frame, handshakeFrameMax)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tc.decode(p)
		if err != nil || got != tc.want {
			t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
		}
		// Any other length, or the wrong kind, is malformed.
		if _, err := tc.decode(p[:len(p)-1]); !errors.Is(err, errMalformed) {
			t.Fatalf("short frame: %v", err)
		}
		if _, err := decodeBatch(p); !errors.Is(err, errMalformed) {
			t.Fatalf("handshake frame decoded as a batch: %v", err)
		}
	}
	if _, err := decodeAuth(a.append(nil, kindAuth)[frameHeaderLen:], kindWelcome); !errors.Is(err, errMalformed) {
		t.Fatal("an auth frame passed for a welcome")
	}
}

func TestBatchRoundTrip(t *testing.T) {
	in := []Envelope{
		{Group: 0, Msg: msg(raftpb.MsgHeartbeat, 1, 2, 0)},
		{Group: 1<<64 - 1, Msg: &raftpb.Message{Type: raftpb.MsgApp.Enum(), To: proto.Uint64(2),
			Entries: []*raftpb.Entry{{Term: proto.Uint64(3), Index: proto.Uint64(9), Data: []byte("event")}}}},
		{Group: 300, Msg: &raftpb.Message{}},
	}
	var items []item
	for _, e := range in {
		data, err := proto.Marshal(e.Msg)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item{group: e.Group, data: data})
	}
	frame := appendBatch(nil, items)
	p, err := readOne(t, frame, DefaultMaxFrameBytes)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeBatch(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d envelopes, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Group != in[i].Group || !proto.Equal(out[i].Msg, in[i].Msg) {
			t.Fatalf("envelope %d: got %v, want %v", i, out[i], in[i])
		}
	}
	// The size the queue accounts for is the size on the wire.
	size := batchOverhead
	for _, it := range items {
		size += it.encodedLen()
	}
	if len(frame) > size {
		t.Fatalf("frame of %d bytes, accounted %d", len(frame), size)
	}

	body := p[1:]
	for name, bad := range map[string][]byte{
		"count beyond bytes": append([]byte{kindBatch}, binary.AppendUvarint(nil, 1<<40)...),
		"trailing bytes":     append(bytes.Clone(p), 0),
		"length beyond":      {kindBatch, 1, 5, 200, 1},
		"bad protobuf":       {kindBatch, 1, 0, 2, 0xff, 0xff},
		"missing count":      {kindBatch},
		"truncated":          append([]byte{kindBatch}, body[:len(body)-1]...),
	} {
		if _, err := decodeBatch(bad); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// FuzzFrame feeds arbitrary bytes to the frame reader and to every decoder behind it: no
// input may panic, allocate beyond what it carries, or decode to something that does not
// encode back to the same messages.
func FuzzFrame(f *testing.F) {
	var n [nonceLen]byte
	f.Add(hello{version: 1, from: 1, to: 2, nonce: n}.append(nil))
	f.Add(challenge{from: 2, nonce: n}.append(nil))
	f.Add(auth{}.append(nil, kindAuth))
	f.Add(auth{}.append(nil, kindWelcome))
	hb, _ := proto.Marshal(msg(raftpb.MsgHeartbeat, 1, 2, 3))
	f.Add(appendBatch(nil, []item{{group: 5, data: hb}, {group: 1 << 40, data: nil}}))
	f.Add(append(appendBatch(nil, []item{{group: 1, data: hb}}), 0, 0, 0, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 16
		fr := newFrameReader(bytes.NewReader(data))
		for {
			p, err := fr.next(limit)
			if err != nil {
				return
			}
			if len(p) == 0 || len(p) > limit || cap(p) != len(p) {
				t.Fatalf("payload len %d cap %d", len(p), cap(p))
			}
			decodeHello(p)
			decodeChallenge(p)
			decodeAuth(p, kindAuth)
			envs, err := decodeBatch(p)
			if err != nil {
				continue
			}
			items := make([]item, len(envs))
			for i, e := range envs {
				b, err := proto.Marshal(e.Msg)
				if err != nil {
					t.Fatal(err)
				}
				items[i] = item{group: e.Group, data: b}
			}
			again, err := decodeBatch(appendBatch(nil, items)[frameHeaderLen:])
			if err != nil || len(again) != len(envs) {
				t.Fatalf("re-encoded batch: %v (%d vs %d)", err, len(again), len(envs))
			}
			for i := range envs {
				if again[i].Group != envs[i].Group || !proto.Equal(again[i].Msg, envs[i].Msg) {
					t.Fatalf("envelope %d changed in a round trip", i)
				}
			}
		}
	})
}
