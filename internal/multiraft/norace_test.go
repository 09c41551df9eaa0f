//go:build !race

package multiraft

const raceEnabled = false
