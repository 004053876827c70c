//go:build race

package fleet

// raceMachines is the default machine count of TestYearShort under the
// race detector (CI runs every test with -race; it slows the simulation
// several times over).
const raceMachines = 8
