//go:build race

package fleet

// raceEnabled: the harness runs under the race detector, and so does the
// server it builds.
const raceEnabled = true
