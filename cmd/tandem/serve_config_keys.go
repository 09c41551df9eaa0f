package main

// Checking a serve config file's keys: every key is the long name of a serve flag, and an
// unknown one (kafka_addr, a typo) is an error naming the nearest valid key, never ignored.

import (
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// checkConfigKeys fails naming every key of the config file that is not a flag of fs, each
// with the nearest flag name.
func checkConfigKeys(fs *pflag.FlagSet, file string, fromFile map[string]any) error {
	var valid []string
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "config" {
			valid = append(valid, fl.Name)
		}
	})
	var unknown []string
	for k := range fromFile {
		if k == "config" || fs.Lookup(k) == nil {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	parts := make([]string, len(unknown))
	for i, k := range unknown {
		parts[i] = `"` + k + `" (did you mean "` + nearestKey(k, valid) + `"?)`
	}
	what := "an unknown key"
	if len(unknown) > 1 {
		what = "unknown keys"
	}
	return errcode.New(errcode.InvalidArgument,
		"config file %s has %s: %s; the keys are the long names of the serve flags, with dashes (see 'tandem serve --help'), "+
			"and the file may not name --config", file, what, strings.Join(parts, ", "))
}

// nearestKey is the valid key at the least edit distance from k, comparing in lower case with
// underscores read as dashes (kafka_addr is one step from kafka-addr); ties go to the first
// in sorted order.
func nearestKey(k string, valid []string) string {
	norm := strings.ReplaceAll(strings.ToLower(k), "_", "-")
	sorted := append([]string(nil), valid...)
	sort.Strings(sorted)
	best, bestD := "", -1
	for _, v := range sorted {
		if d := editDistance(norm, v); bestD < 0 || d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (insertions, deletions and
// substitutions of bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
