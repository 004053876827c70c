// Package browser opens the desktop client's local UI: in an app-style
// window (--app=URL) when a Chromium-based browser is installed, else in the
// system's default browser.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// ErrNoBrowser: nothing could open the URL.
var ErrNoBrowser = errors.New("no browser found")

// Chromium returns the path of an installed Chromium-based browser.
func Chromium() (string, bool) {
	for _, name := range chromiumCandidates() {
		if filepath.IsAbs(name) {
			if st, err := os.Stat(name); err == nil && !st.IsDir() {
				return name, true
			}
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

func chromiumCandidates() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{
			"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
			"/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
			"/Applications/Chromium.app/Contents/MacOS/Chromium",
			"/Applications/Brave Browser.app/Contents/MacOS/Brave Browser",
		}
	case "windows":
		var out []string
		for _, env := range []string{"ProgramFiles", "ProgramFiles(x86)", "LocalAppData"} {
			base := os.Getenv(env)
			if base == "" {
				continue
			}
			out = append(out,
				filepath.Join(base, "Microsoft", "Edge", "Application", "msedge.exe"),
				filepath.Join(base, "Google", "Chrome", "Application", "chrome.exe"),
				filepath.Join(base, "BraveSoftware", "Brave-Browser", "Application", "brave.exe"))
		}
		return out
	default:
		return []string{"google-chrome", "google-chrome-stable", "chromium", "chromium-browser", "microsoft-edge", "brave-browser"}
	}
}

// OpenApp opens url in an app-style window if a Chromium-based browser is
// installed, otherwise in the default browser.
func OpenApp(ctx context.Context, url string) error {
	if p, ok := Chromium(); ok {
		cmd := exec.CommandContext(context.WithoutCancel(ctx), p, "--app="+url, "--new-window")
		if err := cmd.Start(); err == nil {
			go func() { _ = cmd.Wait() }() // reap the browser process when it exits
			return nil
		}
	}
	return Open(ctx, url)
}

// Open opens url in the default browser.
func Open(ctx context.Context, url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", url)
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", url)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %w", ErrNoBrowser, err)
	}
	return nil
}
