package kafka

import (
	"math/bits"
	"sync"
)

// Request frame buffers are recycled (issue 17: a new zeroed buffer per frame cost 15% of the
// server's CPU at 268 MB/s of produce). Buffers come in power-of-two capacity classes from
// 1 KiB to 8 MiB; a larger frame gets a buffer of exactly its size, never pooled. The memory
// budget is charged with a buffer's whole capacity, what the frame really holds.
//
// A frame goes back to the pool only when nothing can still point into it: after the request
// is finished, and only for requests whose decoded form keeps no slice of the frame past its
// handler (frameRecyclable). kmsg copies strings out of the frame but not byte fields: a
// Produce's record batches are consumed during the handler (the log writes them; a replicated
// append encodes a copy into its raft entry), while JoinGroup's protocol metadata, SyncGroup's
// assignments and SASL bytes may be kept by the group coordinator or the authenticator, so
// those frames are left to the garbage collector.
const (
	minFrameClass = 10 // 1 KiB
	maxFrameClass = 23 // 8 MiB
)

var framePools [maxFrameClass - minFrameClass + 1]sync.Pool

// frameCap is the capacity a frame buffer for n bytes gets: the power of two at or above n
// within the pooled classes, n itself beyond them.
func frameCap(n int) int {
	if n > 1<<maxFrameClass {
		return n
	}
	return 1 << max(bits.Len(uint(n-1)), minFrameClass)
}

// frameClass returns the pool of capacity c, false when c is no pooled class.
func frameClass(c int) (int, bool) {
	if c < 1<<minFrameClass || c > 1<<maxFrameClass || c&(c-1) != 0 {
		return 0, false
	}
	return bits.Len(uint(c)) - 1 - minFrameClass, true
}

// getFrameBuf returns an empty buffer of capacity c (a frameCap result). Its bytes are not
// zeroed: the frame reader overwrites every byte of a frame before handing it out.
func getFrameBuf(c int) []byte {
	if cl, ok := frameClass(c); ok {
		if p, _ := framePools[cl].Get().(*[]byte); p != nil {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, c)
}

// putFrameBuf recycles b, which nothing may use afterwards. nil and buffers of no pooled
// class are dropped.
func putFrameBuf(b []byte) {
	if cl, ok := frameClass(cap(b)); ok {
		b = b[:0]
		framePools[cl].Put(&b)
	}
}

// frameRecyclable reports whether the frame of a finished request of API key key may be
// recycled: whether its decoded request keeps no slice of the frame past its handler.
func frameRecyclable(key int16) bool {
	return key == 0 // Produce; see the comment above before adding a key
}
