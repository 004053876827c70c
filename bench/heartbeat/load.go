package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result of one load run.
type result struct {
	name      string
	sent      int64
	acked     int64
	failed    int64
	elapsed   time.Duration
	latencies []time.Duration // of acknowledged requests
	verified  string          // what the persistence check found
	verifyErr error
	ackedBy   []int64       // acknowledged heartbeats per token index
	cpu       time.Duration // process CPU (server and load generator) during the run
	settle    time.Duration // folding the journal after the load (in elapsed)
	seeded    int64         // history rows in the store before the load
	history   int           // of which per machine
}

// cpuPer is the process CPU time per acknowledged heartbeat: unlike the
// rate, it barely depends on what else the machine is running.
func (r result) cpuPer() time.Duration {
	if r.acked == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.acked)
}

func (r result) rate() float64 { return float64(r.acked) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

// body is a realistic heartbeat.
func body(rng *rand.Rand) []byte {
	return fmt.Appendf(nil, `{"status":"ok","agentVersion":"1.4.0","metrics":{"cpu":%.1f,"memory":%.1f,"disk":%.1f,"uptime":%d}}`,
		rng.Float64()*100, rng.Float64()*100, rng.Float64()*100, rng.IntN(1e7))
}

// load sends heartbeats for duration from concurrency workers, spreading
// them over all tokens.
func load(ctx context.Context, baseURL string, tokens []string, concurrency int, duration time.Duration) result {
	return loadN(ctx, baseURL, tokens, concurrency, duration, 0)
}

// loadN is load that stops after limit heartbeats (0: no limit) or
// duration, whichever comes first.
func loadN(ctx context.Context, baseURL string, tokens []string, concurrency int, duration time.Duration, limit int64) result {
	tr := &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := baseURL + "/api/machines/heartbeat"
	var next, sent, acked, failed atomic.Int64
	ackedBy := make([]int64, len(tokens))
	var mu sync.Mutex
	var all []time.Duration
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	start, cpu0 := time.Now(), cpuTime()
	// Machines beat in an order unrelated to the order they registered in
	// (which is the order their rows were written): visit them in a fixed
	// pseudo-random permutation, not in seed order.
	order := rand.New(rand.NewPCG(7, 7)).Perm(len(tokens))
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			lat := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if limit > 0 && n >= limit {
					break
				}
				i := order[n%int64(len(tokens))]
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body(rng)))
				req.Header.Set("Authorization", "Bearer "+tokens[i])
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				sent.Add(1)
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent {
					failed.Add(1)
					continue
				}
				lat = append(lat, time.Since(t0))
				acked.Add(1)
				atomic.AddInt64(&ackedBy[i], 1)
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	slices.Sort(all)
	return result{sent: sent.Load(), acked: acked.Load(), failed: failed.Load(), elapsed: elapsed, latencies: all,
		ackedBy: ackedBy, cpu: cpu}
}
