package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	heartbeats prometheus.Counter
	batchSize  prometheus.Histogram
	batchFail  prometheus.Counter
	limited    prometheus.Counter

	authFailures *prometheus.CounterVec
	authLimited  *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "slipway_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slipway_heartbeats_persisted_total", Help: "Heartbeats committed to the store.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "slipway_heartbeat_batch_size", Help: "Heartbeats per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		batchFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slipway_heartbeat_batch_failures_total", Help: "Failed heartbeat group commits.",
		}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slipway_rate_limited_total", Help: "Requests refused by the per-address rate limit.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_auth_failures_total", Help: "Failed authentications (401 answers) by area: admin_api, admin_page, fleet, machine, other.",
		}, []string{"area"}),
		authLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_auth_limited_total", Help: "Requests refused (429) because their address failed to authenticate too often, by area.",
		}, []string{"area"}),
	}
	reg.MustRegister(m.requests, m.duration, m.heartbeats, m.batchSize, m.batchFail, m.limited, m.authFailures, m.authLimited)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observeBatch(size int, _ time.Duration, err error) {
	if err != nil {
		m.batchFail.Inc()
		return
	}
	m.heartbeats.Add(float64(size))
	m.batchSize.Observe(float64(size))
}

// middleware counts requests by chi route pattern (bounded label values).
func (m *metrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}
