//go:build !race

package fleet

// raceMachines is 0 without the race detector: TestYearShort uses its
// normal default.
const raceMachines = 0
