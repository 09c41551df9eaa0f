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
		if _, err := decodeBatch(p, 1, 2); !errors.Is(err, errMalformed) {
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
		it, err := encodeItem(e.Group, 1, e.Msg)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	frame := appendBatch(nil, items)
	p, err := readOne(t, frame, DefaultMaxFrameBytes)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeBatch(p, 1, 2)
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
		"bad protobuf":       {kindBatch, 1, 0, 8, 0xff, 0xff},
		"bad item encoding":  {kindBatch, 1, 0, 3},
		"heartbeat no term":  {kindBatch, 1, 0, 1},
		"heartbeat short":    {kindBatch, 1, 0, 5, 1},
		"heartbeat trailing": {kindBatch, 1, 0, 14, 1, 1, 0},
		"missing count":      {kindBatch},
		"truncated":          append([]byte{kindBatch}, body[:len(body)-1]...),
	} {
		if _, err := decodeBatch(bad, 1, 2); !errors.Is(err, errMalformed) {
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
	chb, _ := encodeItem(7, 1, heartbeat(1, 2, 5, 9))
	chr, _ := encodeItem(8, 1, heartbeatResp(1, 2, 5))
	f.Add(appendBatch(nil, []item{chb, chr, {group: 5, data: hb}}))
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
			envs, err := decodeBatch(p, 1, 2)
			if err != nil {
				continue
			}
			items := make([]item, len(envs))
			for i, e := range envs {
				it, err := encodeItem(e.Group, 1, e.Msg)
				if err != nil {
					t.Fatal(err)
				}
				items[i] = it
			}
			again, err := decodeBatch(appendBatch(nil, items)[frameHeaderLen:], 1, 2)
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

// heartbeat is the MsgHeartbeat raft's sendHeartbeat builds (without a ReadIndex context).
func heartbeat(from, to, term, commit uint64) *raftpb.Message {
	return &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), To: proto.Uint64(to), From: proto.Uint64(from),
		Term: proto.Uint64(term), Commit: proto.Uint64(commit)}
}

// heartbeatResp is the MsgHeartbeatResp raft's handleHeartbeat builds.
func heartbeatResp(from, to, term uint64) *raftpb.Message {
	return &raftpb.Message{Type: raftpb.MsgHeartbeatResp.Enum(), To: proto.Uint64(to), From: proto.Uint64(from),
		Term: proto.Uint64(term)}
}

// TestCompactHeartbeats: plain heartbeats and their responses travel compactly and come out
// exactly as raft sent them; any heartbeat with another field set travels as protobuf.
func TestCompactHeartbeats(t *testing.T) {
	withCtx := heartbeat(1, 2, 5, 9)
	withCtx.Context = []byte("read-index")
	zeroCtx := heartbeat(1, 2, 5, 9)
	zeroCtx.Context = []byte{}
	respCtx := heartbeatResp(1, 2, 5)
	respCtx.Context = []byte("read-index")
	otherFrom := heartbeat(3, 2, 5, 9)
	noCommit := heartbeat(1, 2, 5, 9)
	noCommit.Commit = nil
	reject := heartbeatResp(1, 2, 5)
	reject.Reject = proto.Bool(false)
	for _, tc := range []struct {
		name    string
		m       *raftpb.Message
		compact bool
	}{
		{"heartbeat", heartbeat(1, 2, 5, 9), true},
		{"heartbeat commit 0", heartbeat(1, 2, 1, 0), true},
		{"heartbeat large", heartbeat(1, 2, 1<<63, 1<<64-1), true},
		{"response", heartbeatResp(1, 2, 5), true},
		{"heartbeat with context", withCtx, false},
		{"heartbeat with empty context", zeroCtx, false},
		{"response with context", respCtx, false},
		{"from another node", otherFrom, false},
		{"heartbeat without commit", noCommit, false},
		{"response with reject set", reject, false},
		{"append", msg(raftpb.MsgApp, 1, 2, 5), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it, err := encodeItem(42, 1, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if got := it.kind != itemProto; got != tc.compact {
				t.Fatalf("compact = %v, want %v", got, tc.compact)
			}
			if tc.compact && len(it.data) > 20 {
				t.Fatalf("compact item of %d bytes", len(it.data))
			}
			p, err := readOne(t, appendBatch(nil, []item{it}), DefaultMaxFrameBytes)
			if err != nil {
				t.Fatal(err)
			}
			out, err := decodeBatch(p, tc.m.GetFrom(), tc.m.GetTo())
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 || out[0].Group != 42 || !proto.Equal(out[0].Msg, tc.m) {
				t.Fatalf("got %v, want %v", out, tc.m)
			}
		})
	}
}
