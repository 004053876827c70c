// Package batch gathers queued requests into batches for group commit: one
// goroutine takes the first request, then whatever else is already waiting
// (and, optionally, what arrives within a short wait), and serves them with
// one database round trip.
package batch

import "time"

// Take appends to b the values already queued on in, without waiting,
// until b holds max.
func Take[T any](in <-chan T, b []T, max int) []T {
	for len(b) < max {
		select {
		case v := <-in:
			b = append(b, v)
		default:
			return b
		}
	}
	return b
}

// Gather is Take, then, when wait is positive, it waits up to wait for more
// values until b holds max or done is closed.
func Gather[T any](in <-chan T, b []T, max int, wait time.Duration, done <-chan struct{}) []T {
	b = Take(in, b, max)
	if wait <= 0 || len(b) >= max {
		return b
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(b) < max {
		select {
		case v := <-in:
			b = append(b, v)
		case <-t.C:
			return b
		case <-done:
			return b
		}
	}
	return b
}
