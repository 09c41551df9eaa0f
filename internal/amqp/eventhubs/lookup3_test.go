package eventhubs

import "testing"

// The hashes are the .NET SDK's test vectors (outputs of the service's own C# lookup3), as the
// Java SDK copied them: Azure/azure-sdk-for-java
// sdk/eventhubs/azure-messaging-eventhubs/src/test/java/com/azure/messaging/eventhubs/PartitionResolverTests.java
// (partitionHashTestCases, "Taken from .NET's to confirm cross-language compatibility").
func TestPartitionKeyHash(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int16
	}{
		{"7", -15263},
		{"131", 30562},
		{"7149583486996073602", 12977},
		{"FWfAT", -22341},
		{"sOdeEAsyQoEuEFPGerWO", -6503},
		{"FAyAIctPeCgmiwLKbJcyswoHglHVjQdvtBowLACDNORsYvOcLddNJYDmhAVkbyLOrHTKLneMNcbgWVlasVywOByANjs", 5226},
		{"1XYM6!(7(lF5wq4k4m*e$Nc!1ezLJv*1YK1Y-C^*&B$O)lq^iUkG(TNzXG;Zi#z2Og*Qq0#^*k):vXh$3,C7We7%W0meJ;b3,rQCg^J;^twXgs5E$$hWKxqp", 23950},
		{"E(x;RRIaQcJs*P;D&jTPau-4K04oqr:lF6Z):ERpo&;9040qyV@G1_c9mgOs-8_8/10Fwa-7b7-yP!T-!IH&968)FWuI;(^g$2fN;)HJ^^yTn:", -29304},
		{"!c*_!I@1^c", 15372},
		{"p4*!jioeO/z-!-;w:dh", -3104},
		{"$0cb", 26269},
		{"-4189260826195535198", 453},
	} {
		if got := partitionKeyHash(tc.key); got != tc.want {
			t.Errorf("partitionKeyHash(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

// The partitions are the JS SDK's test vectors: Azure/azure-sdk-for-js
// sdk/eventhub/event-hubs/test/internal/node/mapPartitionKeyToId.spec.ts ("created from outputs
// received from the C# implementation of Jenkins lookup3 that the Event Hubs service uses").
func TestKeyPartition(t *testing.T) {
	for _, tc := range []struct {
		key   string
		count int32
		want  int32
	}{
		{"alphabet", 3, 0},
		{"alphabet", 11, 4},
		{"TheBestParitionEver", 4, 2},
		{"TheWorstParitionEver", 15, 1},
	} {
		if got := KeyPartition(tc.key, tc.count); got != tc.want {
			t.Errorf("KeyPartition(%q, %d) = %d, want %d", tc.key, tc.count, got, tc.want)
		}
	}
	// Every key of every length lands inside the hub.
	key := ""
	for i := 0; i < 40; i++ {
		key += string(rune('a' + i%26))
		for _, n := range []int32{1, 2, 7, 32} {
			if p := KeyPartition(key, n); p < 0 || p >= n {
				t.Fatalf("KeyPartition(%q, %d) = %d, outside the hub", key, n, p)
			}
		}
	}
}
