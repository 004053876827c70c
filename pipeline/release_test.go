//go:build slipway_typecheck

package main

import "testing"

func TestS3Spec(t *testing.T) {
	tests := []struct {
		name   string
		target s3Target
		want   string
	}{
		{"aws", s3Target{bucket: "releases", region: "eu-west-3"}, "s3://releases?region=eu-west-3"},
		{"minio", s3Target{endpoint: "minio.internal:9000", bucket: "rel", region: "us-east-1", prefix: "slipway", pathStyle: true, insecure: true},
			"s3://rel/slipway?endpoint=minio.internal%3A9000&insecure=true&path-style=true&region=us-east-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.target.spec()
			if err != nil || got != tc.want {
				t.Fatalf("spec() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := (s3Target{region: "x"}).spec(); err == nil {
		t.Error("spec without a bucket succeeded")
	}
}
