package release

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fakeProducer is a producer step for the side-by-side tests: it waits
// for wait (when set), then closes done (when set) and returns its result.
type fakeProducer struct {
	name       string
	arts       []string
	err        error
	wait, done chan struct{}
	ran        *bool
}

func (f fakeProducer) Name() string { return f.name }

func (f fakeProducer) Run(ctx context.Context, r *run) error { return r.added(f.produce(ctx, r)) }

func (f fakeProducer) produce(ctx context.Context, _ *run) ([]DistArtifact, error) {
	if f.ran != nil {
		*f.ran = true
	}
	if f.wait != nil {
		select {
		case <-f.wait:
		case <-time.After(time.Minute):
			return nil, errors.New("the other step never ran: steps are not side by side")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.done != nil {
		close(f.done)
	}
	var out []DistArtifact
	for _, n := range f.arts {
		out = append(out, DistArtifact{Name: n})
	}
	return out, f.err
}

func testRun(out io.Writer) *run {
	return &run{opts: Options{Out: out, Now: time.Now}, log: slog.New(slog.DiscardHandler), dist: &Dist{}, report: &Report{}}
}

func TestSideBySide(t *testing.T) {
	t.Run("concurrent, reported in order", func(t *testing.T) {
		// The first step can only finish after the second has: run one
		// after the other, they would never finish.
		secondDone := make(chan struct{})
		var out bytes.Buffer
		r := testRun(&out)
		err := runSteps(context.Background(), r, []Step{sideBySide{
			fakeProducer{name: "first", arts: []string{"a1", "a2"}, wait: secondDone},
			fakeProducer{name: "second", arts: []string{"b1"}, done: secondDone},
			fakeProducer{name: "third", err: skip("nothing to do"), arts: []string{"c1"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range r.dist.Artifacts {
			names = append(names, a.Name)
		}
		if got := strings.Join(names, ","); got != "a1,a2,b1,c1" {
			t.Errorf("artifacts %s, want the group's order a1,a2,b1,c1", got)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		want := []string{"  ok    first ", "  ok    second ", "  skip  third "}
		if len(lines) != len(want) {
			t.Fatalf("output:\n%s", out.String())
		}
		for i, w := range want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("line %d %q, want %q...", i, lines[i], w)
			}
		}
		if len(r.report.Steps) != 3 || r.report.Steps[0].Name != "first" || r.report.Steps[2].Skipped != "nothing to do" {
			t.Errorf("report steps %+v", r.report.Steps)
		}
	})
	t.Run("every step runs, the first failure in order stops", func(t *testing.T) {
		var out bytes.Buffer
		r := testRun(&out)
		var laterRan, afterGroupRan bool
		errA, errB := errors.New("a broke"), errors.New("b broke")
		err := runSteps(context.Background(), r, []Step{
			sideBySide{
				fakeProducer{name: "ok", arts: []string{"x"}},
				fakeProducer{name: "a", err: errA, arts: []string{"partial"}},
				fakeProducer{name: "b", err: errB, ran: &laterRan},
			},
			fakeProducer{name: "after", ran: &afterGroupRan},
		})
		if !errors.Is(err, errA) || errors.Is(err, errB) || !strings.HasPrefix(err.Error(), "a: ") {
			t.Fatalf("error %v, want a's (wrapped with the step name)", err)
		}
		if !laterRan || afterGroupRan {
			t.Errorf("step b ran: %v (want true), step after the group ran: %v (want false)", laterRan, afterGroupRan)
		}
		if len(r.dist.Artifacts) != 1 || r.dist.Artifacts[0].Name != "x" {
			t.Errorf("artifacts %+v: a failed step's artifacts must not be added", r.dist.Artifacts)
		}
		for _, w := range []string{"  ok    ok ", "  FAIL  a ", "  FAIL  b "} {
			if !hasLinePrefix(out.String(), w) {
				t.Errorf("no line %q in:\n%s", w, out.String())
			}
		}
	})
	t.Run("no build", func(t *testing.T) {
		// Producers that skip without a dist must not touch it.
		r := testRun(io.Discard)
		r.dist = nil
		err := runSteps(context.Background(), r, []Step{sideBySide{msiStep{}, macosStep{}}, msiStep{}, macosStep{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.report.Steps {
			if s.Skipped != "no build" {
				t.Errorf("step %+v, want skipped: no build", s)
			}
		}
	})
}
