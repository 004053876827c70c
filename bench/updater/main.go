// Command updater-bench serves one side of the update-check benchmark
// (bench/updater/run.sh): Slipway's real update endpoint over a
// filesystem store with a published, promoted release, or the baseline
// minimal net/http server returning fixed bytes from memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

func main() {
	mode := flag.String("mode", "slipway", "slipway or fixed")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dir := flag.String("dir", "", "work directory (store, keys, body file)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until shutdown")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var h http.Handler
	var err error
	switch *mode {
	case "slipway":
		h, err = slipway(ctx, *dir)
	case "fixed":
		h, err = fixed(*dir)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Print(err)
	}
	<-ctx.Done()
}

// slipway publishes agent 1.0.0 and 1.1.0, promotes 1.1.0 to stable at a
// 50 % rollout (so every check runs the rollout decision), applies, and
// returns the real update handler. It writes the body a machine inside
// the rollout receives to <dir>/latest.json for the baselines.
func slipway(ctx context.Context, dir string) (http.Handler, error) {
	st, err := fs.New(filepath.Join(dir, "artifacts"), fs.Options{})
	if err != nil {
		return nil, err
	}
	pub, err := updatertest.NewPublisher(st, "", 1)
	if err != nil {
		return nil, err
	}
	f := &channel.File{}
	for _, v := range []struct {
		version string
		pct     float64
	}{{"1.0.0", 100}, {"1.1.0", 50}} {
		if _, err := pub.PublishE(ctx, "agent", v.version, updatertest.Agent(v.version)...); err != nil {
			return nil, err
		}
		if err := f.Promote("agent", "stable", v.version, v.pct); err != nil {
			return nil, err
		}
	}
	keys, err := repo.EnsureKeys(filepath.Join(dir, "keys"), 1)
	if err != nil {
		return nil, err
	}
	cfg := publish.Config{Store: st, Verifier: catalog.Minisign{Key: pub.PK}}
	if _, err := publish.Apply(ctx, cfg, f, keys, time.Now()); err != nil {
		return nil, err
	}
	eh, err := endpoint.New(ctx, st, endpoint.Options{BaseURL: "http://127.0.0.1:8080"})
	if err != nil {
		return nil, err
	}
	go eh.Run(ctx)
	r := chi.NewRouter()
	eh.Routes(r)
	return r, writeSample(r, filepath.Join(dir, "latest.json"))
}

// writeSample records one real update answer (a machine inside the
// rollout, on 1.0.0) as the static file the baselines serve.
func writeSample(h http.Handler, path string) error {
	for i := 0; ; i++ {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=m-%d", i), nil)
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		if rec.code == http.StatusOK || rec.code == 0 {
			return os.WriteFile(path, rec.body, 0o644)
		}
		if i > 100 {
			return fmt.Errorf("no machine inside the rollout (last status %d)", rec.code)
		}
	}
}

type recorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(p []byte) (int, error) { r.body = append(r.body, p...); return len(p), nil }

// fixed is baseline (b): a minimal net/http server returning the sample
// body from memory.
func fixed(dir string) (http.Handler, error) {
	body, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}), nil
}
