package batch

import (
	"slices"
	"testing"
	"time"
)

func queued(vs ...int) chan int {
	c := make(chan int, 16)
	for _, v := range vs {
		c <- v
	}
	return c
}

func TestTake(t *testing.T) {
	in := queued(2, 3, 4)
	if got := Take(in, []int{1}, 3); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("Take = %v, want up to max", got)
	}
	if got := Take(in, nil, 10); !slices.Equal(got, []int{4}) {
		t.Fatalf("Take = %v, want only what is queued", got)
	}
	if got := Take(in, nil, 10); len(got) != 0 {
		t.Fatalf("Take on an empty queue = %v", got)
	}
}

func TestGather(t *testing.T) {
	// Values arriving during the wait join; a full batch returns at once
	// (an hour-long wait would time the test out otherwise).
	in := queued(2)
	go func() {
		time.Sleep(5 * time.Millisecond)
		in <- 3
	}()
	if got := Gather(in, []int{1}, 3, time.Hour, nil); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("Gather = %v", got)
	}
	// done ends the wait.
	done := make(chan struct{})
	close(done)
	if got := Gather(queued(), []int{1}, 3, time.Hour, done); !slices.Equal(got, []int{1}) {
		t.Fatalf("Gather after done = %v", got)
	}
	// No wait: only what is queued.
	if got := Gather(queued(5), nil, 3, 0, nil); !slices.Equal(got, []int{5}) {
		t.Fatalf("Gather without wait = %v", got)
	}
}
