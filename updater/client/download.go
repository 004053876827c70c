package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/slipwayhq/slipway/signing/minisign"
)

// Download fetches the offered artifact into <state>/staging, resuming a
// partial download with HTTP Range, never reading more than the signed
// length, and verifies the TUF length and hashes and the minisign
// signature. It returns the verified staging path.
func (c *Client) Download(ctx context.Context, o *Offer) (string, error) {
	dir := filepath.Join(c.cfg.StateDir, "staging")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	part := filepath.Join(dir, hex.EncodeToString(o.hashes["sha256"])+".part")
	if err := c.fetch(ctx, o, part); err != nil {
		return "", err
	}
	if err := verifyFile(part, o); err != nil {
		os.Remove(part)
		return "", err
	}
	if err := c.verifySignature(part, o); err != nil {
		os.Remove(part)
		return "", err
	}
	return part, nil
}

// fetch appends to part until it holds o.length bytes.
func (c *Client) fetch(ctx context.Context, o *Offer, part string) error {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if have > o.length {
		if err := f.Truncate(0); err != nil {
			return err
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	if have == o.length {
		return nil // complete from an earlier attempt; verified next
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: download: %w", ErrServer, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0 && strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(have, 10)+"-"):
	case resp.StatusCode == http.StatusOK:
		// The server ignored the Range: start over.
		if err := f.Truncate(0); err != nil {
			return err
		}
		if have, err = f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	default:
		if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			f.Truncate(0) // the partial file cannot be resumed: start over next time
		}
		return fmt.Errorf("%w: download: HTTP %d", ErrServer, resp.StatusCode)
	}
	want := o.length - have
	n, err := io.Copy(f, io.LimitReader(resp.Body, want))
	if err != nil {
		return fmt.Errorf("%w: download interrupted after %d bytes (will resume): %w", ErrServer, have+n, err)
	}
	if n < want {
		return fmt.Errorf("%w: download ended after %d of %d bytes (will resume)", ErrServer, have+n, o.length)
	}
	// Endless data: the server has more to say than the signed length.
	var one [1]byte
	if k, _ := resp.Body.Read(one[:]); k > 0 {
		f.Truncate(0)
		return fmt.Errorf("%w: server sends more than the signed %d bytes", ErrTooLarge, o.length)
	}
	return f.Sync()
}

// verifyFile checks the staged file against the signed TUF length and
// every signed hash, then against the minisign signature.
func verifyFile(path string, o *Offer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	hashers := map[string]hash.Hash{}
	var ws []io.Writer
	for alg := range o.hashes {
		switch alg {
		case "sha256":
			hashers[alg] = sha256.New()
		case "sha512":
			hashers[alg] = sha512.New()
		default:
			continue
		}
		ws = append(ws, hashers[alg])
	}
	if len(hashers) == 0 {
		return fmt.Errorf("%w: target has no supported hash", ErrBadHash)
	}
	n, err := io.Copy(io.MultiWriter(ws...), f)
	if err != nil {
		return err
	}
	if n != o.length {
		return fmt.Errorf("%w: %d bytes, signed length %d", ErrBadHash, n, o.length)
	}
	for alg, h := range hashers {
		if !bytes.Equal(h.Sum(nil), o.hashes[alg]) {
			return fmt.Errorf("%w: %s differs", ErrBadHash, alg)
		}
	}
	return nil
}

// verifySignature checks the minisign signature of the staged file.
func (c *Client) verifySignature(path string, o *Offer) error {
	text := o.Signatures["minisign"]
	if text == "" {
		return fmt.Errorf("%w: no minisign signature offered", ErrBadSignature)
	}
	sig, err := minisign.ParseSignature([]byte(text))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	keys, err := c.acceptedKeys(o)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k *minisign.PublicKey) bool { return k.ID == sig.KeyID })
	if i < 0 {
		return fmt.Errorf("%w: signed by %s; accepted release keys: %s", ErrBadSignature, sig.KeyID, keyIDs(keys))
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := minisign.Verify(keys[i], f, sig); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if v, ok := sig.Field("version"); ok && v != o.Version {
		return fmt.Errorf("%w: signature is for version %s, offered %s", ErrBadSignature, v, o.Version)
	}
	if len(o.keys) > 0 {
		if err := c.learnKeys(keys); err != nil {
			return fmt.Errorf("record release keys: %w", err)
		}
	}
	return nil
}

var errNoBinary = errors.New("binary not found in archive")
