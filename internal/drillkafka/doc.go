// Package drillkafka is the Kafka workload of `tandem drill --fault node|zone`: a producer
// that sends numbered records at a steady rate with a real Kafka client (franz-go, acks=all,
// idempotent) and records every acknowledgement, and a reader that reads the topic back and
// checks that every acknowledged record is there.
//
// Acks is the pure core: it turns acknowledgement times into what a client saw (the longest
// pause between acknowledgements, the slowest one) and the read-back into records lost and
// read twice. Producer and ReadBack are the thin runners around a kgo.Client.
package drillkafka
