package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// shBlocks returns the ```sh blocks of a Markdown file that contain want.
func shBlocks(t *testing.T, path, want string) string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		if strings.Contains(m[1], want) {
			out.WriteString(m[1])
		}
	}
	if out.Len() == 0 {
		t.Fatalf("no sh block with %q in %s", want, path)
	}
	return out.String()
}

// upLayout builds what `slipway up` leaves in <dir>/data (dev keys, agent
// and desktop released and promoted to stable, applied) without the
// GoReleaser build, plus the Tauri app "myapp" 1.2.3 of docs/updater.md on
// stable, and serves it like `slipway up` does. It returns the URL.
func upLayout(t *testing.T, dir string) string {
	ctx, cancel := context.WithCancel(t.Context())
	data := filepath.Join(dir, "data")
	st, pub, keysDir := upData(t, data)
	const snap = "0.0.1-snapshot-abc1234"
	for _, p := range upProducts {
		var files []updatertest.File
		for _, goos := range []string{"linux", "darwin", "windows"} {
			for _, goarch := range []string{"amd64", "arm64"} {
				format := "tar.gz"
				if goos == "windows" {
					format = "zip"
				}
				files = append(files, updatertest.File{Name: "slipway-" + p + "_" + snap + "_" + goos + "_" + goarch + "." + format,
					OS: goos, Arch: goarch, Format: format, Data: []byte(p + " " + goos + "/" + goarch)})
			}
		}
		pub.Publish(t, p, snap, files...)
	}
	pub.Publish(t, "myapp", "1.2.3", updatertest.TauriApp("1.2.3")...)
	promoteInFile(t, st, data, keysDir, "myapp", "1.2.3")
	var out strings.Builder
	if err := upPromote(ctx, st, data, keysDir, snap, &out); err != nil {
		t.Fatalf("promote: %v\n%s", err, out.String())
	}
	u, err := newUpdates(ctx, data, updateOptions{keysDir: keysDir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan server.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: data}, server.RunOptions{
			Options: server.Options{Logger: slog.New(slog.DiscardHandler), Mount: []func(chi.Router){u.mount()}},
			Ready:   func(i server.Info) { ready <- i },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case info := <-ready:
		return info.URL
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

// TestDocsTryIt runs, as written, the README's "Try it" block and the curl
// lines of docs/updater.md (the Tauri journey's endpoints) against the
// layout `slipway up` serves: a reader following them never meets an error.
func TestDocsTryIt(t *testing.T) {
	curl := testenv.Tool(t, "curl", "apt-get install curl")
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	readme := shBlocks(t, "../../README.md", `"$SLIPWAY/tauri/desktop/stable/latest.json"`)
	updater := shBlocks(t, "../../docs/updater.md", "/tauri/myapp/stable/latest.json")
	dir := t.TempDir()
	url := upLayout(t, dir)
	script := strings.Replace(readme, "SLIPWAY=http://127.0.0.1:8080", "SLIPWAY="+url, 1) +
		strings.ReplaceAll(updater, "http://127.0.0.1:8080", url)
	cmd := exec.CommandContext(t.Context(), bash, "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"machineToken": "swm_`, `"hostname": "laptop-42"`, "HTTP/1.1 200",
		`"version":"0.0.1-snapshot-abc1234"`, `"darwin-aarch64":`, `"linux-x86_64-appimage":`, `"version":"1.2.3"`,
		`"_type":"root"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
