package eventhubs

import "math/bits"

// KeyPartition maps an Event Hubs partition key to a partition the way the service and the
// SDKs' buffered producers do: Jenkins lookup3 (hashlittle2, both seeds 0) over the key's
// UTF-8 bytes, the two 32-bit results folded to an int16 (c ^ b), then abs(hash % count).
// Producers that pick partitions themselves (the JS EventHubBufferedProducerClient, .NET's
// and Java's PartitionResolver) must agree with the server, so this must not change.
//
// References: Azure/azure-sdk-for-js sdk/eventhub/event-hubs/src/impl/partitionKeyToIdMapper.ts
// (mapPartitionKeyToId, hashPartitionKey) and Bob Jenkins' lookup3.c (hashlittle2).
func KeyPartition(key string, count int32) int32 {
	h := int32(partitionKeyHash(key))
	p := h % count
	if p < 0 {
		p = -p
	}
	return p
}

// partitionKeyHash is the service's 16-bit hash of a partition key.
func partitionKeyHash(key string) int16 {
	b, c := hashlittle2([]byte(key), 0, 0)
	return int16(c ^ b)
}

// hashlittle2 is lookup3's hashlittle2 reading the input as little-endian 32-bit words; it
// returns (b, c): lookup3's secondary and primary hash.
func hashlittle2(data []byte, seed1, seed2 uint32) (b, c uint32) {
	a := 0xdeadbeef + uint32(len(data)) + seed1
	b, c = a, a
	c += seed2
	for len(data) > 12 {
		a += le32(data[0:])
		b += le32(data[4:])
		c += le32(data[8:])
		a, b, c = mix(a, b, c)
		data = data[12:]
	}
	if len(data) == 0 {
		return b, c
	}
	// The tail: up to 12 bytes, zero-padded, added into a, b and c.
	var tail [12]byte
	copy(tail[:], data)
	a += le32(tail[0:])
	b += le32(tail[4:])
	c += le32(tail[8:])
	return final(a, b, c)
}

func le32(p []byte) uint32 {
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
}

func mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func final(a, b, c uint32) (uint32, uint32) {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return b, c
}
