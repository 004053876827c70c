package client

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// timestampHeader mirrors endpoint.TimestampHeader (the client must not
// depend on server packages): the TUF timestamp version the server
// decided its answer on.
const timestampHeader = "Slipway-Tuf-Timestamp"

// announcedTimestamp parses the header; 0 when absent.
func announcedTimestamp(h http.Header) (int64, error) {
	v := h.Get(timestampHeader)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: bad %s header %.20q", ErrServer, timestampHeader, v)
	}
	return n, nil
}

// verifyAnswer refreshes TUF after every answer of the update endpoint,
// "no update" (204) included, so that whoever can answer 204 (a stale
// proxy, an attacker on the path) cannot freeze a machine without it
// noticing: expired metadata is an ErrExpired on an up-to-date machine as
// on any other. The signed timestamp must also be at least as new as the
// one the endpoint says it decided on; an older one means the metadata
// path is stale or frozen (ErrFreeze).
func (c *Client) verifyAnswer(ctx context.Context, announced int64) (*updater.Updater, error) {
	up, err := c.refreshTUF(ctx)
	if err != nil {
		return nil, err
	}
	if ts := up.GetTrustedMetadataSet().Timestamp; ts != nil && ts.Signed.Version < announced {
		return nil, fmt.Errorf("%w: signed timestamp is version %d, the update endpoint answered from version %d (stale or frozen metadata)",
			ErrFreeze, ts.Signed.Version, announced)
	}
	return up, nil
}
