package fleet

import (
	"testing"
	"time"
)

func TestHistogramQuantile(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(h *histogram)
		q    float64
		want time.Duration
	}{
		{"uniform 1..1000 ms", func(h *histogram) {
			for i := 1; i <= 1000; i++ {
				h.add(time.Duration(i) * time.Millisecond)
			}
		}, 0.99, 990 * time.Millisecond},
		{"one slow request in 100", func(h *histogram) {
			for range 99 {
				h.add(time.Millisecond)
			}
			h.add(time.Second)
		}, 0.99, time.Millisecond},
		{"one slow request in 50", func(h *histogram) {
			for range 49 {
				h.add(time.Millisecond)
			}
			h.add(time.Second)
		}, 0.99, time.Second},
		{"sub-microsecond", func(h *histogram) { h.add(0) }, 0.99, time.Microsecond},
		{"empty", func(*histogram) {}, 0.99, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &histogram{}
			tc.add(h)
			got := h.quantile(tc.q)
			if got < tc.want || float64(got) > float64(tc.want)*1.03 {
				t.Fatalf("p%g = %v, want %v (+3 %%)", tc.q*100, got, tc.want)
			}
		})
	}
}
