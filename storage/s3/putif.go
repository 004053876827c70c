package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/slipwayhq/slipway/storage/object"
)

// PutIf writes data to key if its current content is prev (prev nil: if
// key does not exist), else fails with object.ErrPrecondition. It uses S3
// conditional writes: If-None-Match: * to create, and, to replace, reads
// the object, compares it with prev and writes with If-Match on the ETag
// it read, so a concurrent writer between the read and the write makes
// the write fail instead of being overwritten.
func (s *Store) PutIf(ctx context.Context, key string, data []byte, contentType string, prev []byte) error {
	n, err := s.name(key)
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	opts := minio.PutObjectOptions{ContentType: contentType}
	if prev == nil {
		opts.SetMatchETagExcept("*")
	} else {
		etag, err := s.matching(ctx, key, prev)
		if err != nil {
			return err
		}
		opts.SetMatchETag(etag)
	}
	if _, err := s.client.PutObject(ctx, s.cfg.Bucket, n, bytes.NewReader(data), int64(len(data)), opts); err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.StatusCode == http.StatusPreconditionFailed || resp.StatusCode == http.StatusConflict {
			return fmt.Errorf("s3 put %s: %w: %w", key, object.ErrPrecondition, err)
		}
		return fmt.Errorf("s3 put %s: %w", key, mapErr(err))
	}
	return nil
}

// matching returns the ETag of key if its content is prev.
func (s *Store) matching(ctx context.Context, key string, prev []byte) (string, error) {
	rc, info, err := s.Get(ctx, key)
	if errors.Is(err, object.ErrNotFound) {
		return "", fmt.Errorf("s3 put %s: %w: it does not exist", key, object.ErrPrecondition)
	}
	if err != nil {
		return "", err
	}
	defer rc.Close()
	cur, err := io.ReadAll(io.LimitReader(rc, int64(len(prev))+1))
	if minio.ToErrorResponse(err).StatusCode == http.StatusPreconditionFailed {
		// minio-go reads with If-Match on the ETag it first saw.
		return "", fmt.Errorf("s3 put %s: %w: it changed while read", key, object.ErrPrecondition)
	}
	if err != nil {
		return "", fmt.Errorf("s3 put %s: read current: %w", key, mapErr(err))
	}
	if !bytes.Equal(cur, prev) || info.ETag == "" {
		return "", fmt.Errorf("s3 put %s: %w: it changed", key, object.ErrPrecondition)
	}
	return info.ETag, nil
}
