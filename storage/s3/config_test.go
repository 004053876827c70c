package s3

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want Config
	}{
		{"defaults", "s3://releases", Config{Endpoint: DefaultEndpoint, Bucket: "releases", Region: DefaultRegion}},
		{"full", "s3://my-bucket/slipway/prod/?endpoint=127.0.0.1:9000&region=eu-west-3&path-style=true&insecure=true",
			Config{Endpoint: "127.0.0.1:9000", Bucket: "my-bucket", Region: "eu-west-3", Prefix: "slipway/prod", PathStyle: true, Insecure: true}},
		{"false flags", "s3://b.example/p?path-style=false&insecure=0", Config{Endpoint: DefaultEndpoint, Bucket: "b.example", Region: DefaultRegion, Prefix: "p"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseURL(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("ParseURL = %+v, want %+v", got, tc.want)
			}
			back, err := ParseURL(got.URL())
			if err != nil || back != got {
				t.Fatalf("round trip via %q = %+v, %v", got.URL(), back, err)
			}
		})
	}
}

func TestParseURLRejects(t *testing.T) {
	for name, spec := range map[string]string{
		"wrong scheme":      "http://bucket",
		"no bucket":         "s3:///prefix",
		"short bucket":      "s3://ab",
		"upper bucket":      "s3://Bucket",
		"underscore bucket": "s3://my_bucket",
		"bucket dash end":   "s3://bucket-",
		"credentials":       "s3://AKIA:secret@bucket",
		"unknown param":     "s3://bucket?access-key=AKIA",
		"repeated param":    "s3://bucket?region=a&region=b",
		"bad bool":          "s3://bucket?insecure=maybe",
		"endpoint scheme":   "s3://bucket?endpoint=http://127.0.0.1:9000",
		"endpoint path":     "s3://bucket?endpoint=127.0.0.1:9000/x",
		"endpoint bad port": "s3://bucket?endpoint=127.0.0.1:99999",
		"bad prefix":        "s3://bucket/a/../b",
		"fragment":          "s3://bucket#x",
		"garbage":           "s3://%zz",
		"control chars":     "s3://bucket/\x00",
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := ParseURL(spec); !errors.Is(err, ErrConfig) {
				t.Fatalf("ParseURL(%q) = %+v, %v; want ErrConfig", spec, c, err)
			}
		})
	}
}

func TestValidateCredentialsPair(t *testing.T) {
	c := Config{Bucket: "bucket", AccessKeyID: "AKIA"}
	c.Default()
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("access key without secret: %v", err)
	}
}

// TestCredentialsNeverSerialized: a Config written to a file or a log as
// JSON carries no secret.
func TestCredentialsNeverSerialized(t *testing.T) {
	c := Config{Bucket: "bucket", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "s3cr3t-value", SessionToken: "tok3n"}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"AKIAEXAMPLE", "s3cr3t-value", "tok3n"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("JSON %s contains a credential", b)
		}
	}
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if str := s.String(); strings.Contains(str, "s3cr3t") || strings.Contains(str, "AKIA") {
		t.Errorf("String() = %q leaks a credential", str)
	}
}
