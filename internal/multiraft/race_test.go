//go:build race

package multiraft

// The simulation runs on one goroutine, so the race detector adds time and
// finds nothing there: TestSim runs fewer seeds under -race.
const raceEnabled = true
