package fleet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EnvBinary names a prebuilt rehearsal server (`go build -tags rehearsal
// ./cmd/slipway`); without it, Run builds one.
const EnvBinary = "FLEET_SLIPWAY"

// GCPercent is the garbage collector setting the rehearsal's harness
// runs with (the test binary and cmd/fleet set it): the simulated clients
// allocate a lot (TUF metadata decoded on every check) and live in little
// memory, so collecting 4x less often saves about a tenth of the CPU.
const GCPercent = 400

// slipwayPackage is the server the rehearsal runs.
const slipwayPackage = "github.com/slipwayhq/slipway/cmd/slipway"

// BuildServer builds `slipway` with the rehearsal tag into dir (the go
// build cache makes it a link step after the first time; with -race
// when the harness has it) and returns its
// path; EnvBinary, when set, is used instead. It needs the go command and
// a working directory inside the module.
func BuildServer(ctx context.Context, dir string) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "slipway-rehearsal")
	args := []string{"build", "-tags", "rehearsal", "-o", out}
	if raceEnabled { // the server under the race detector too
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, slipwayPackage)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the rehearsal server: %w\n%s", err, msg)
	}
	return out, nil
}
