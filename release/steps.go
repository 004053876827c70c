package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Step is one stage of a release. Steps are plain data in an ordered slice
// (see Run); logging, timing and skipping are done by runSteps around them.
type Step interface {
	// Name is the short name printed in progress lines ("build", "sign").
	Name() string
	// Run does the work, or returns a Skip when there is nothing to do.
	Run(ctx context.Context, r *run) error
}

// Skip is returned by a step that had nothing to do. It is not a failure.
type Skip struct{ Reason string }

func (s Skip) Error() string { return "skipped: " + s.Reason }

func skip(format string, args ...any) error { return Skip{Reason: fmt.Sprintf(format, args...)} }

// StepResult is the outcome of one step, in the report.
type StepResult struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	Skipped  string        `json:"skipped,omitempty"` // the skip reason
	Error    string        `json:"error,omitempty"`
}

// runSteps runs the steps in order, printing one line per step with its
// duration, and stops at the first failure.
func runSteps(ctx context.Context, r *run, steps []Step) error {
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := r.now()
		r.log.Debug("step start", slog.String("step", s.Name()))
		err := s.Run(ctx, r)
		res := StepResult{Name: s.Name(), Duration: r.now().Sub(start)}
		var sk Skip
		switch {
		case errors.As(err, &sk):
			res.Skipped = sk.Reason
			r.printf("  skip  %-9s %8s  %s\n", res.Name, elapsed(res.Duration), sk.Reason)
			r.log.Info("step skipped", slog.String("step", res.Name), slog.String("reason", sk.Reason))
		case err != nil:
			res.Error = err.Error()
			r.printf("  FAIL  %-9s %8s  %v\n", res.Name, elapsed(res.Duration), err)
			r.log.Error("step failed", slog.String("step", res.Name), slog.Duration("duration", res.Duration), slog.Any("error", err))
		default:
			r.printf("  ok    %-9s %8s\n", res.Name, elapsed(res.Duration))
			r.log.Info("step done", slog.String("step", res.Name), slog.Duration("duration", res.Duration))
		}
		r.report.Steps = append(r.report.Steps, res)
		if err != nil && res.Skipped == "" {
			return fmt.Errorf("%s: %w", res.Name, err)
		}
	}
	return nil
}
