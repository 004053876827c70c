package client

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Install extracts the binary from the verified staging file, runs its
// self-check and trial run (see TrialEnv), swaps it in atomically keeping the previous binary, and
// records a pending health check for Startup. On error nothing changed.
// A binary inside a macOS .app bundle is replaced with the whole bundle.
func (c *Client) Install(ctx context.Context, o *Offer, staged string) (*Result, error) {
	if app := SwapTarget(c.cfg.BinaryPath); app != c.cfg.BinaryPath {
		return c.installBundle(ctx, o, staged, app)
	}
	dir := filepath.Dir(c.cfg.BinaryPath)
	// The new binary is written next to the installed one so the final
	// rename never crosses file systems.
	newBin, err := os.CreateTemp(dir, "."+c.cfg.BinaryName+".new-*")
	if err != nil {
		return nil, err
	}
	newPath := newBin.Name()
	defer os.Remove(newPath)
	if err := c.extract(staged, o.format, newBin); err != nil {
		newBin.Close()
		return nil, err
	}
	if err := newBin.Close(); err != nil {
		return nil, err
	}
	if err := os.Chmod(newPath, 0o755); err != nil {
		return nil, err
	}
	if err := c.vet(ctx, newPath, o.Version); err != nil {
		return nil, err
	}
	prev, err := swap(c.cfg.BinaryPath, newPath, renameFirst(c.cfg.BinaryPath))
	if err != nil {
		return nil, err
	}
	return c.installed(ctx, o, staged, c.cfg.BinaryPath, prev)
}

// installBundle replaces a whole .app bundle: the archive (an .app.tar.gz)
// is unpacked next to it, the new bundle's binary self-checked, then the
// bundles are swapped by directory renames.
func (c *Client) installBundle(ctx context.Context, o *Offer, staged, app string) (*Result, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(app), "."+filepath.Base(app)+".new-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := c.extractBundle(staged, filepath.Base(app), tmp); err != nil {
		return nil, err
	}
	newApp := filepath.Join(tmp, filepath.Base(app))
	rel, err := filepath.Rel(app, c.cfg.BinaryPath)
	if err != nil {
		return nil, err
	}
	if err := c.vet(ctx, filepath.Join(newApp, rel), o.Version); err != nil {
		return nil, err
	}
	prev, err := swap(app, newApp, true)
	if err != nil {
		return nil, err
	}
	return c.installed(ctx, o, staged, app, prev)
}

// installed records the pending health check after a swap.
func (c *Client) installed(ctx context.Context, o *Offer, staged, target, prev string) (*Result, error) {
	if err := writePending(c.cfg.StateDir, pending{From: c.cfg.CurrentVersion, To: o.Version,
		Binary: target, Deadline: c.cfg.Now().Add(c.cfg.HealthDeadline), Window: c.cfg.HealthDeadline}); err != nil {
		return nil, err
	}
	os.Remove(staged)
	c.cfg.Logger.InfoContext(ctx, "update installed", "product", c.cfg.Product, "version", o.Version, "previous", c.cfg.CurrentVersion)
	return &Result{From: c.cfg.CurrentVersion, To: o.Version, Previous: prev}, nil
}

// extractBundle unpacks the <appName>/ tree of a tar.gz into dir. Entry
// names must stay inside the bundle; symlinks must be relative and not
// climb out; the total size is bounded by Limits.Binary.
func (c *Client) extractBundle(staged, appName, dir string) error {
	f, err := os.Open(staged)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadHash, err)
	}
	tr := tar.NewReader(gz)
	budget := c.cfg.Limits.Binary
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		raw := strings.TrimPrefix(h.Name, "./")
		if path.IsAbs(raw) || slices.Contains(strings.Split(raw, "/"), "..") {
			return fmt.Errorf("bundle entry %q escapes the bundle", h.Name)
		}
		name := path.Clean(raw)
		if !inside(name, appName) {
			continue
		}
		found = true
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			if budget -= h.Size; budget < 0 {
				return fmt.Errorf("%w: bundle larger than %d bytes", ErrTooLarge, c.cfg.Limits.Binary)
			}
			err = writeEntry(dst, tr, h)
		case tar.TypeSymlink:
			if path.IsAbs(h.Linkname) || !inside(path.Join(path.Dir(name), h.Linkname), appName) {
				return fmt.Errorf("bundle symlink %q -> %q escapes the bundle", h.Name, h.Linkname)
			}
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.Symlink(h.Linkname, dst)
			}
		}
		if err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("%s: %w", appName, errNoBinary)
	}
	return nil
}

// inside reports whether the slash path p is dir or below it.
func inside(p, dir string) bool {
	p = path.Clean(p)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func writeEntry(dst string, r io.Reader, h *tar.Header) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(h.Mode).Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(r, h.Size)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// extract writes the binary named BinaryName from a tar.gz or zip archive
// (or the file itself for any other format) to w, bounded by Limits.Binary.
func (c *Client) extract(staged, format string, w io.Writer) error {
	f, err := os.Open(staged)
	if err != nil {
		return err
	}
	defer f.Close()
	limit := c.cfg.Limits.Binary
	copyBounded := func(r io.Reader) error {
		n, err := io.Copy(w, io.LimitReader(r, limit+1))
		if err != nil {
			return err
		}
		if n > limit {
			return fmt.Errorf("%w: binary larger than %d bytes", ErrTooLarge, limit)
		}
		return nil
	}
	switch format {
	case "tar.gz":
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadHash, err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return fmt.Errorf("%s: %w", c.cfg.BinaryName, errNoBinary)
			}
			if err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg && path.Base(h.Name) == c.cfg.BinaryName {
				return copyBounded(tr)
			}
		}
	case "zip":
		st, err := f.Stat()
		if err != nil {
			return err
		}
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return err
		}
		for _, zf := range zr.File {
			if path.Base(zf.Name) == c.cfg.BinaryName && !zf.FileInfo().IsDir() {
				rc, err := zf.Open()
				if err != nil {
					return err
				}
				defer rc.Close()
				return copyBounded(rc)
			}
		}
		return fmt.Errorf("%s: %w", c.cfg.BinaryName, errNoBinary)
	}
	return copyBounded(f)
}

// selfCheck runs the new binary with SelfCheckArgs; it must exit 0 within
// SelfCheckTimeout and print its version.
func (c *Client) selfCheck(ctx context.Context, bin, version string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SelfCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, c.cfg.SelfCheckArgs...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &limitedWriter{w: &out, n: 64 << 10}, &limitedWriter{w: &out, n: 64 << 10}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s %s: %w: %.200s", ErrSelfCheck, filepath.Base(bin), strings.Join(c.cfg.SelfCheckArgs, " "), err, out.String())
	}
	if !strings.Contains(out.String(), version) {
		return fmt.Errorf("%w: output does not mention %s: %.200s", ErrSelfCheck, version, out.String())
	}
	return nil
}

type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if int64(len(q)) > l.n {
		q = q[:l.n]
	}
	l.n -= int64(len(q))
	if _, err := l.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}
