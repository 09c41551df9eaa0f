package interop

import (
	"encoding/binary"
	"math/bits"
	"testing"
)

// keyPartition is the partition Event Hubs puts a partition key in: Jenkins' lookup3
// (hashlittle2, both seeds 0) over the key's UTF-8 bytes, the low 16 bits of c^b as a signed
// number, modulo the partition count, made positive. Written here from Bob Jenkins'
// lookup3.c, independently of Tandem's own copy, so the test checks the server's hash.
func keyPartition(key string, partitions int) int {
	c, b := hashlittle2([]byte(key))
	h := int(int16(uint16(c ^ b)))
	p := h % partitions
	if p < 0 {
		p = -p
	}
	return p
}

func hashlittle2(k []byte) (c, b uint32) {
	a := 0xdeadbeef + uint32(len(k))
	b, c = a, a
	for len(k) > 12 {
		a += binary.LittleEndian.Uint32(k[0:])
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a, b, c = mix(a, b, c)
		k = k[12:]
	}
	if len(k) == 0 {
		return c, b
	}
	var w [3]uint32
	for i, x := range k {
		w[i/4] += uint32(x) << (8 * (i % 4))
	}
	a, b, c = final(a+w[0], b+w[1], c+w[2])
	return c, b
}

func rot(x uint32, k int) uint32 { return bits.RotateLeft32(x, k) }

func mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= rot(c, 4)
	c += b
	b -= a
	b ^= rot(a, 6)
	a += c
	c -= b
	c ^= rot(b, 8)
	b += a
	a -= c
	a ^= rot(c, 16)
	c += b
	b -= a
	b ^= rot(a, 19)
	a += c
	c -= b
	c ^= rot(b, 4)
	b += a
	return a, b, c
}

func final(a, b, c uint32) (uint32, uint32, uint32) {
	c ^= b
	c -= rot(b, 14)
	a ^= c
	a -= rot(c, 11)
	b ^= a
	b -= rot(a, 25)
	c ^= b
	c -= rot(b, 16)
	a ^= c
	a -= rot(c, 4)
	b ^= a
	b -= rot(a, 14)
	c ^= b
	c -= rot(b, 24)
	return a, b, c
}

// The JS SDK's vectors (sdk/eventhub/event-hubs/test/internal/node/mapPartitionKeyToId.spec.ts,
// "created from outputs received from the C# implementation ... that the Event Hubs service
// uses"), so keyPartition is the service's mapping before the server is judged by it.
func TestKeyPartitionVectors(t *testing.T) {
	for _, tc := range []struct {
		key   string
		parts int
		want  int
	}{
		{"alphabet", 3, 0},
		{"alphabet", 11, 4},
		{"TheBestParitionEver", 4, 2},
		{"TheWorstParitionEver", 15, 1},
	} {
		if got := keyPartition(tc.key, tc.parts); got != tc.want {
			t.Errorf("keyPartition(%q, %d) = %d, want %d", tc.key, tc.parts, got, tc.want)
		}
	}
}
