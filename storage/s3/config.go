package s3

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/slipwayhq/slipway/storage/object"
)

// Defaults, applied by Config.Default.
const (
	DefaultEndpoint = "s3.amazonaws.com"
	DefaultRegion   = "us-east-1"
)

// ErrConfig is returned by Validate and ParseURL for an unusable configuration.
var ErrConfig = errors.New("invalid s3 config")

// Config says where the bucket is. It is plain data: credentials are never
// serialized (json/yaml "-"); when AccessKeyID is empty they come from the
// standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
// variables, then ~/.aws/credentials, then the EC2/ECS instance role.
type Config struct {
	// Endpoint is host[:port] without a scheme. Default: s3.amazonaws.com.
	Endpoint string `json:"endpoint" yaml:"endpoint"`
	// Bucket name. Required.
	Bucket string `json:"bucket" yaml:"bucket"`
	// Region, used for signing. Default: us-east-1.
	Region string `json:"region" yaml:"region"`
	// Prefix is prepended (with a "/") to every key, e.g. "slipway".
	// Default: none.
	Prefix string `json:"prefix" yaml:"prefix"`
	// PathStyle forces http://endpoint/bucket/key addressing (MinIO,
	// versitygw, most self-hosted servers). Default: false, which picks
	// virtual-hosted style for AWS and path style elsewhere.
	PathStyle bool `json:"path_style" yaml:"path_style"`
	// Insecure talks plain HTTP instead of HTTPS. Default: false (TLS on).
	Insecure bool `json:"insecure" yaml:"insecure"`

	// AccessKeyID, SecretAccessKey and SessionToken are explicit
	// credentials; they override the environment. Never serialized.
	AccessKeyID     string `json:"-" yaml:"-"`
	SecretAccessKey string `json:"-" yaml:"-"`
	SessionToken    string `json:"-" yaml:"-"`
}

// Default fills in the defaults for unset fields.
func (c *Config) Default() {
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
}

// Validate checks a defaulted Config.
func (c Config) Validate() error {
	if c.Endpoint == "" {
		return fmt.Errorf("%w: endpoint is empty", ErrConfig)
	}
	if strings.Contains(c.Endpoint, "://") || strings.ContainsAny(c.Endpoint, "/?#@ ") {
		return fmt.Errorf("%w: endpoint %q must be host[:port] without scheme or path", ErrConfig, c.Endpoint)
	}
	if host, port, err := net.SplitHostPort(c.Endpoint); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return fmt.Errorf("%w: endpoint %q has a bad port", ErrConfig, c.Endpoint)
		}
	}
	if err := validBucket(c.Bucket); err != nil {
		return err
	}
	if c.Region == "" {
		return fmt.Errorf("%w: region is empty", ErrConfig)
	}
	if c.Prefix != "" {
		if err := object.ValidateKey(c.Prefix); err != nil {
			return fmt.Errorf("%w: prefix: %w", ErrConfig, err)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("%w: access key id and secret access key must be set together", ErrConfig)
	}
	return nil
}

// validBucket applies the S3 bucket naming rules that matter for addressing.
func validBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("%w: bucket %q must be 3 to 63 characters", ErrConfig, b)
	}
	for i, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '.') && i > 0 && i < len(b)-1
		if !ok {
			return fmt.Errorf("%w: bucket %q: only a-z, 0-9, '-' and '.' (not at the ends)", ErrConfig, b)
		}
	}
	return nil
}

// ParseURL reads a Config from a spec such as
//
//	s3://bucket/prefix?endpoint=127.0.0.1:9000&region=us-east-1&path-style=true&insecure=true
//
// Query parameters: endpoint, region, path-style, insecure (plain HTTP).
// Unknown parameters and credentials in the URL are refused: keys come from
// the environment or explicit Config fields, never from a URL that ends up
// in logs. The result is defaulted and validated.
func ParseURL(spec string) (Config, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("%w: scheme %q, want s3://", ErrConfig, u.Scheme)
	}
	if u.User != nil {
		return Config{}, fmt.Errorf("%w: credentials in the URL are not accepted; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", ErrConfig)
	}
	if u.Fragment != "" || u.Opaque != "" {
		return Config{}, fmt.Errorf("%w: unexpected fragment or opaque part in %q", ErrConfig, spec)
	}
	c := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	for name, vals := range u.Query() {
		if len(vals) != 1 {
			return Config{}, fmt.Errorf("%w: parameter %q given %d times", ErrConfig, name, len(vals))
		}
		v := vals[0]
		switch name {
		case "endpoint":
			c.Endpoint = v
		case "region":
			c.Region = v
		case "path-style":
			c.PathStyle, err = strconv.ParseBool(v)
		case "insecure":
			c.Insecure, err = strconv.ParseBool(v)
		default:
			return Config{}, fmt.Errorf("%w: unknown parameter %q (want endpoint, region, path-style, insecure)", ErrConfig, name)
		}
		if err != nil {
			return Config{}, fmt.Errorf("%w: parameter %s: %w", ErrConfig, name, err)
		}
	}
	c.Default()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// URL renders the Config back as an s3:// spec (never with credentials).
func (c Config) URL() string {
	q := url.Values{}
	q.Set("endpoint", c.Endpoint)
	q.Set("region", c.Region)
	if c.PathStyle {
		q.Set("path-style", "true")
	}
	if c.Insecure {
		q.Set("insecure", "true")
	}
	u := url.URL{Scheme: "s3", Host: c.Bucket, RawQuery: q.Encode()}
	if c.Prefix != "" {
		u.Path = "/" + c.Prefix
	}
	return u.String()
}
