package nodeproc

import (
	"bytes"
	"reflect"
	"testing"
)

func TestParseReady(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Ready
		ok   bool
	}{
		{"tandem ready region=east kafka=127.0.0.1:9092 http=127.0.0.1:8080",
			Ready{Region: "east", Kafka: "127.0.0.1:9092", HTTP: "127.0.0.1:8080"}, true},
		{"tandem ready region=local kafka=off http=[::1]:8080",
			Ready{Region: "local", Kafka: "off", HTTP: "[::1]:8080"}, true},
		{"tandem ready region=east kafka=127.0.0.1:1 http=127.0.0.1:2 kafka-tls=127.0.0.1:3 api=https",
			Ready{Region: "east", Kafka: "127.0.0.1:1", HTTP: "127.0.0.1:2", KafkaTLS: "127.0.0.1:3", TLS: true}, true},
		{"tandem ready region=west kafka=off http=127.0.0.1:2 kafka-tls=127.0.0.1:3 api=https",
			Ready{Region: "west", Kafka: "off", HTTP: "127.0.0.1:2", KafkaTLS: "127.0.0.1:3", TLS: true}, true},
		{"tandem ready region=west kafka=127.0.0.1:1 http=127.0.0.1:2 kafka-tls=off api=https",
			Ready{Region: "west", Kafka: "127.0.0.1:1", HTTP: "127.0.0.1:2", KafkaTLS: "off", TLS: true}, true},
		{"tandem ready region=east kafka=127.0.0.1:9092 http=127.0.0.1:8080 node=1",
			Ready{Region: "east", Kafka: "127.0.0.1:9092", HTTP: "127.0.0.1:8080", Node: "1"}, true},
		{"tandem ready region=east kafka=off http=127.0.0.1:2 kafka-tls=127.0.0.1:3 api=https node=3",
			Ready{Region: "east", Kafka: "off", HTTP: "127.0.0.1:2", KafkaTLS: "127.0.0.1:3", TLS: true, Node: "3"}, true},
		{"tandem ready region=east kafka=127.0.0.1:1 http=127.0.0.1:2 amqp=127.0.0.1:5672",
			Ready{Region: "east", Kafka: "127.0.0.1:1", HTTP: "127.0.0.1:2", AMQP: "127.0.0.1:5672"}, true},
		{"tandem ready region=east kafka=127.0.0.1:1 http=127.0.0.1:2 amqp=off node=2",
			Ready{Region: "east", Kafka: "127.0.0.1:1", HTTP: "127.0.0.1:2", AMQP: "off", Node: "2"}, true},
		{"tandem ready region=east kafka=off http=127.0.0.1:2 amqp=127.0.0.1:4 amqps=127.0.0.1:5 kafka-tls=127.0.0.1:3 api=https node=1",
			Ready{Region: "east", Kafka: "off", HTTP: "127.0.0.1:2", AMQP: "127.0.0.1:4", AMQPS: "127.0.0.1:5",
				KafkaTLS: "127.0.0.1:3", TLS: true, Node: "1"}, true},
		// Not ready lines.
		{"tandem ready region=east kafka=a http=b amqps=c", Ready{}, false}, // amqps= only in the TLS form
		{"tandem ready region=east kafka=a http=b amqps=c amqp=d kafka-tls=e api=https", Ready{}, false},
		{"tandem ready region=east kafka=a http=b amqp=", Ready{}, false},
		{"tandem ready region=east kafka=a http=b node=", Ready{}, false},
		{"tandem ready region=east kafka=a http=b node=x", Ready{}, false},
		{"", Ready{}, false},
		{"time=… level=INFO msg=\"tandem ready region=east kafka=a http=b\"", Ready{}, false},
		{"tandem ready region=east kafka=a", Ready{}, false},
		{"tandem ready region=east kafka=a http=b kafka-tls=c", Ready{}, false},
		{"tandem ready region=east kafka=a http=b api=https", Ready{}, false},
		{"tandem ready region= kafka=a http=b", Ready{}, false},
		{"tandem ready region=east kafka=a http=b trailing", Ready{}, false},
		{"tandem dev ready alias=tandem-dev bootstrap=a,b east=c west=d", Ready{}, false},
	} {
		got, ok := ParseReady(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseReady(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
		if ok && got.String() != tc.line {
			t.Errorf("Ready.String() = %q, want the line %q", got.String(), tc.line)
		}
	}
}

func TestReadyURL(t *testing.T) {
	plain, _ := ParseReady("tandem ready region=e kafka=k:1 http=h:2")
	tls, _ := ParseReady("tandem ready region=e kafka=off http=h:2 kafka-tls=k:3 api=https")
	if plain.URL() != "http://h:2" || tls.URL() != "https://h:2" {
		t.Errorf("URLs %s and %s", plain.URL(), tls.URL())
	}
}

func FuzzParseReady(f *testing.F) {
	f.Add("tandem ready region=east kafka=127.0.0.1:1 http=127.0.0.1:2")
	f.Add("tandem ready region=east kafka=off http=127.0.0.1:2 kafka-tls=127.0.0.1:3 api=https")
	f.Add("tandem ready region=east kafka=off http=127.0.0.1:2 amqp=127.0.0.1:4 amqps=off kafka-tls=127.0.0.1:3 api=https node=1")
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := ParseReady(line)
		if !ok {
			return
		}
		if r.String() != line {
			t.Fatalf("%q parsed as %+v, which prints as %q", line, r, r.String())
		}
		if again, ok := ParseReady(r.String()); !ok || again != r {
			t.Fatalf("%+v does not read back: %+v %v", r, again, ok)
		}
	})
}

// The writer copies everything to the log and reports the first ready line once, whatever
// the chunks stdout arrives in.
func TestReadyWriterSplitsAnywhere(t *testing.T) {
	in := "noise\r\ntandem ready region=east kafka=127.0.0.1:1 http=127.0.0.1:2 kafka-tls=127.0.0.1:3 api=https\r\n" +
		"tandem ready region=east kafka=x http=y\nmore\n"
	for _, size := range []int{1, 2, 7, 64, len(in)} {
		var log bytes.Buffer
		var found []Ready
		w := &readyWriter{log: &log, found: func(r Ready) { found = append(found, r) }}
		for i := 0; i < len(in); i += size {
			w.Write([]byte(in[i:min(i+size, len(in))]))
		}
		want := []Ready{{Region: "east", Kafka: "127.0.0.1:1", HTTP: "127.0.0.1:2", KafkaTLS: "127.0.0.1:3", TLS: true}}
		if !reflect.DeepEqual(found, want) {
			t.Errorf("chunks of %d: found %+v, want %+v", size, found, want)
		}
		if log.String() != in {
			t.Errorf("chunks of %d: log %q", size, log.String())
		}
	}
}
