package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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

// producer is a step whose only effect on the run is the files it adds to
// dist/: it returns their artifacts instead of appending them, so that it
// can run side by side with other steps.
type producer interface {
	Step
	produce(ctx context.Context, r *run) ([]DistArtifact, error)
}

// sideBySide is a group of steps run concurrently, with their lines
// printed and their artifacts appended in the group's order once all have
// finished (so the output and dist's artifact list do not depend on which
// finished first). Every step of the group runs even when another fails;
// the first failure in the group's order stops the release. Steps in a
// group must not touch the run state another one reads: producers only
// read the build, keys writes only the signers.
type sideBySide []Step

// Name lists the group's steps ("keys+msi+macos").
func (g sideBySide) Name() string {
	names := make([]string, len(g))
	for i, s := range g {
		names[i] = s.Name()
	}
	return strings.Join(names, "+")
}

// Run runs the group (runSteps prints one line per step of it).
func (g sideBySide) Run(ctx context.Context, r *run) error { return g.run(ctx, r) }

// runSteps runs the steps in order, printing one line per step with its
// duration, and stops at the first failure.
func runSteps(ctx context.Context, r *run, steps []Step) error {
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if g, ok := s.(sideBySide); ok {
			if err := g.run(ctx, r); err != nil {
				return err
			}
			continue
		}
		start := r.now()
		r.log.Debug("step start", slog.String("step", s.Name()))
		err := s.Run(ctx, r)
		if err := r.finish(s.Name(), r.now().Sub(start), err); err != nil {
			return err
		}
	}
	return nil
}

func (g sideBySide) run(ctx context.Context, r *run) error {
	type result struct {
		arts []DistArtifact
		err  error
		took time.Duration
	}
	results := make([]result, len(g))
	var wg sync.WaitGroup
	for i, s := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := r.now()
			r.log.Debug("step start", slog.String("step", s.Name()))
			var res result
			if p, ok := s.(producer); ok {
				res.arts, res.err = p.produce(ctx, r)
			} else {
				res.err = s.Run(ctx, r)
			}
			res.took = r.now().Sub(start)
			results[i] = res
		}()
	}
	wg.Wait()
	var first error
	for i, s := range g {
		res := results[i]
		if err := r.finish(s.Name(), res.took, r.added(res.arts, res.err)); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// added appends a producer's artifacts to dist's list, unless it failed
// (a skip keeps what the producer found: files an earlier run built).
func (r *run) added(arts []DistArtifact, err error) error {
	var sk Skip
	if len(arts) > 0 && (err == nil || errors.As(err, &sk)) {
		r.dist.Artifacts = append(r.dist.Artifacts, arts...)
	}
	return err
}

// finish prints and records a step's outcome, and returns the error that
// stops the release (nil for a success or a skip).
func (r *run) finish(name string, took time.Duration, err error) error {
	res := StepResult{Name: name, Duration: took}
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
	return nil
}
