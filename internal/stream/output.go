package stream

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// collect turns the output streams' rows at step t into output Rows, in the total order of the
// output: by output name, then by row key. The key is the first 128 bits of the SHA-256 of the
// row's JSON; the n-th repeat of an identical row at the same time gets "-n" appended, so that
// (Time, Key) is unique and the same rows always get the same keys.
func (e *Engine) collect(t int64) {
	for _, id := range e.plan.outputIDs {
		rows := e.cur[id]
		if len(rows) == 0 {
			continue
		}
		name := e.plan.outputOf[id]
		first := len(e.out)
		for _, r := range rows {
			js := r.b[0].AppendJSON(nil)
			sum := sha256.Sum256(js)
			e.out = append(e.out, Row{Output: name, Time: t, Key: hex.EncodeToString(sum[:16]), Value: r.b[0], JSON: js})
		}
		mine := e.out[first:]
		slices.SortStableFunc(mine, func(a, b Row) int { return strings.Compare(a.Key, b.Key) })
		base, n := "", 0
		for i := range mine {
			if k := mine[i].Key; k == base {
				n++
				mine[i].Key = k + "-" + strconv.Itoa(n)
			} else {
				base, n = k, 0
			}
		}
	}
}
