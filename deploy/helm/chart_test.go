// Package helm holds the tests of the Slipway Helm chart (deploy/helm/slipway)
// and of the plain manifests rendered from it (deploy/kubernetes).
package helm

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/slipwayhq/slipway/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes from the chart")

const chart = "slipway"

// obj is one rendered Kubernetes object.
type obj map[string]any

func (o obj) kind() string { return str(o, "kind") }
func (o obj) name() string { return str(o, "metadata", "name") }

// get walks maps (string keys) and lists (int keys).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			if o, ok := v.(obj); ok {
				m = o
			}
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testenv.Tool(t, "helm", "scripts/tools.sh helm")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// render runs helm template with a values file and parses every object.
func render(t *testing.T, values string, set ...string) (string, []obj) {
	t.Helper()
	args := []string{"template", "slipway", chart, "--namespace", "slipway", "-f", filepath.Join(chart, "ci", values)}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out, parseObjects(t, out)
}

func parseObjects(t *testing.T, manifest string) []obj {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	var objs []obj
	for {
		var o obj
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if o == nil {
			continue
		}
		if o.kind() == "" || str(o, "apiVersion") == "" || o.name() == "" {
			t.Fatalf("object without apiVersion/kind/name: %v", o)
		}
		if !strings.HasPrefix(o.name(), "slipway") || str(o, "metadata", "labels", "app.kubernetes.io/name") != "slipway" {
			t.Errorf("%s %s: name or labels not the chart's: %v", o.kind(), o.name(), get(o, "metadata"))
		}
		objs = append(objs, o)
	}
	return objs
}

func byKind(objs []obj) map[string]obj {
	m := map[string]obj{}
	for _, o := range objs {
		m[o.kind()] = o
	}
	return m
}

func TestLint(t *testing.T) {
	for _, v := range []string{"sqlite-values.yaml", "postgres-values.yaml"} {
		if out, err := helm(t, "lint", "--strict", chart, "-f", filepath.Join(chart, "ci", v)); err != nil {
			t.Errorf("%s: %v\n%s", v, err, out)
		}
	}
}

func TestSQLiteMode(t *testing.T) {
	manifest, objs := render(t, "sqlite-values.yaml")
	k := byKind(objs)
	for _, want := range []string{"Deployment", "Service", "PersistentVolumeClaim", "PodDisruptionBudget", "ServiceAccount"} {
		if k[want] == nil {
			t.Errorf("no %s rendered", want)
		}
	}
	if k["ServiceMonitor"] != nil {
		t.Error("ServiceMonitor rendered although disabled")
	}
	d := k["Deployment"]
	if get(d, "spec", "replicas") != 1 || str(d, "spec", "strategy", "type") != "Recreate" {
		t.Errorf("SQLite deployment: replicas %v strategy %v", get(d, "spec", "replicas"), get(d, "spec", "strategy"))
	}
	if claim := str(d, "spec", "template", "spec", "volumes", 0, "persistentVolumeClaim", "claimName"); claim != k["PersistentVolumeClaim"].name() {
		t.Errorf("data volume claims %q, PVC is %q", claim, k["PersistentVolumeClaim"].name())
	}
	c := checkPod(t, d, k["Service"])
	env := envOf(c)
	if env["SLIPWAY_DATABASE_URL"] != nil || env["SLIPWAY_SECRET_KEY_FILE"] != nil {
		t.Errorf("SQLite mode sets PostgreSQL/secret key env: %v", env)
	}
	if ref := str(env["MACHINE_PROVISIONING_SECRET"], "valueFrom", "secretKeyRef", "name"); ref != "slipway-provisioning" {
		t.Errorf("provisioning secret not from a Secret: %v", env["MACHINE_PROVISIONING_SECRET"])
	}
	checkGolden(t, "slipway-sqlite.yaml", manifest)
}

func TestPostgresMode(t *testing.T) {
	manifest, objs := render(t, "postgres-values.yaml")
	k := byKind(objs)
	if k["PersistentVolumeClaim"] != nil {
		t.Error("PVC rendered in PostgreSQL mode")
	}
	d := k["Deployment"]
	if get(d, "spec", "replicas") != 3 || str(d, "spec", "strategy", "type") != "RollingUpdate" {
		t.Errorf("PostgreSQL deployment: replicas %v strategy %v", get(d, "spec", "replicas"), get(d, "spec", "strategy"))
	}
	c := checkPod(t, d, k["Service"])
	env := envOf(c)
	if ref := get(env["SLIPWAY_DATABASE_URL"], "valueFrom", "secretKeyRef"); str(ref, "name") != "slipway-postgres" || str(ref, "key") != "database-url" {
		t.Errorf("database URL not from the Secret: %v", env["SLIPWAY_DATABASE_URL"])
	}
	keyFile := str(env["SLIPWAY_SECRET_KEY_FILE"], "value")
	if !mountedSecret(d, c, keyFile, "slipway-secret-key") {
		t.Errorf("SLIPWAY_SECRET_KEY_FILE=%s is not a mounted Secret slipway-secret-key", keyFile)
	}
	if str(get(c, "envFrom", 0), "secretRef", "name") != "slipway-s3" || !strings.HasPrefix(str(env["SLIPWAY_STORE"], "value"), "s3://") {
		t.Errorf("S3 store: env %v envFrom %v", env["SLIPWAY_STORE"], get(c, "envFrom"))
	}
	sm := k["ServiceMonitor"]
	if sm == nil || str(sm, "spec", "endpoints", 0, "port") != "http" || str(sm, "spec", "endpoints", 0, "path") != "/metrics" ||
		str(sm, "metadata", "labels", "release") != "prometheus" {
		t.Errorf("ServiceMonitor = %v", sm)
	}
	checkGolden(t, "slipway-postgres.yaml", manifest)
}

// checkPod checks what both modes share and returns the container.
func checkPod(t *testing.T, d, svc obj) any {
	t.Helper()
	pod := get(d, "spec", "template")
	c := get(pod, "spec", "containers", 0)
	if img := str(c, "image"); !strings.Contains(img, "@sha256:") {
		t.Errorf("image %q not pinned by digest", img)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if str(c, probe, "httpGet", "path") != path || str(c, probe, "httpGet", "port") != "http" {
			t.Errorf("%s = %v, want GET %s on port http", probe, get(c, probe), path)
		}
	}
	if get(c, "ports", 0, "containerPort") != 8080 || str(c, "ports", 0, "name") != "http" || str(envOf(c)["SLIPWAY_ADDR"], "value") != ":8080" {
		t.Errorf("ports %v / SLIPWAY_ADDR %v", get(c, "ports"), envOf(c)["SLIPWAY_ADDR"])
	}
	if str(svc, "spec", "ports", 0, "targetPort") != "http" {
		t.Errorf("service targets %v", get(svc, "spec", "ports"))
	}
	for k, v := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"} {
		if str(pod, "metadata", "annotations", k) != v {
			t.Errorf("pod annotation %s = %q, want %q", k, str(pod, "metadata", "annotations", k), v)
		}
	}
	sc, psc := get(c, "securityContext"), get(pod, "spec", "securityContext")
	if get(psc, "runAsNonRoot") != true || get(psc, "runAsUser") == 0 || get(sc, "allowPrivilegeEscalation") != false ||
		get(sc, "readOnlyRootFilesystem") != true || str(sc, "capabilities", "drop", 0) != "ALL" {
		t.Errorf("security contexts: pod %v container %v", psc, sc)
	}
	// Secrets are referenced, never inlined: no env value looks like one.
	for name, e := range envOf(c) {
		secretish := strings.Contains(name, "SECRET") || strings.Contains(name, "DATABASE_URL") || strings.Contains(name, "TOKEN") || strings.Contains(name, "PASSWORD")
		if secretish && get(e, "value") != nil && !strings.HasSuffix(name, "_FILE") {
			t.Errorf("%s has an inline value: %v", name, e)
		}
	}
	tuf := str(envOf(c)["SLIPWAY_TUF_KEYS"], "value")
	if !mountedSecret(d, c, tuf+"/tuf-online.key", "slipway-tuf") {
		t.Errorf("SLIPWAY_TUF_KEYS=%s does not hold tuf-online.key from Secret slipway-tuf", tuf)
	}
	pdb := get(d, "spec", "selector", "matchLabels")
	if str(pdb, "app.kubernetes.io/instance") != "slipway" {
		t.Errorf("selector %v", pdb)
	}
	return c
}

func envOf(c any) map[string]any {
	m := map[string]any{}
	l, _ := get(c, "env").([]any)
	for _, e := range l {
		m[str(e, "name")] = e
	}
	return m
}

// mountedSecret reports whether file is a key of Secret secret mounted into
// the container.
func mountedSecret(d obj, c any, file, secret string) bool {
	dir, base := filepath.Dir(file), filepath.Base(file)
	var volume string
	mounts, _ := get(c, "volumeMounts").([]any)
	for _, m := range mounts {
		if str(m, "mountPath") == dir && get(m, "readOnly") == true {
			volume = str(m, "name")
		}
	}
	vols, _ := get(d, "spec", "template", "spec", "volumes").([]any)
	for _, v := range vols {
		if str(v, "name") != volume || str(v, "secret", "secretName") != secret {
			continue
		}
		items, _ := get(v, "secret", "items").([]any)
		for _, it := range items {
			if str(it, "path") == base {
				return true
			}
		}
	}
	return false
}

// TestRefusedValues: values that cannot work fail at render time.
func TestRefusedValues(t *testing.T) {
	tests := []struct {
		name, values string
		set          []string
		want         string
	}{
		{"sqlite with replicas", "sqlite-values.yaml", []string{"replicaCount=2"}, "one replica"},
		{"unknown database", "sqlite-values.yaml", []string{"database.type=mysql"}, "sqlite or postgres"},
		{"postgres without database secret", "postgres-values.yaml", []string{"database.postgres.existingSecret="}, "database.postgres.existingSecret"},
		{"postgres without secret key", "postgres-values.yaml", []string{"secretKey.existingSecret="}, "SLIPWAY_SECRET_KEY_FILE"},
		{"postgres without store", "postgres-values.yaml", []string{"store.url="}, "store.url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "slipway", chart, "-f", filepath.Join(chart, "ci", tc.values)}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := helm(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// checkGolden compares deploy/kubernetes/<name> (the plain manifests) with
// the chart's rendering; go test -update rewrites it.
func checkGolden(t *testing.T, name, manifest string) {
	t.Helper()
	header := "# Rendered from deploy/helm/slipway with deploy/helm/slipway/ci/" + strings.TrimPrefix(name, "slipway-")[:strings.Index(strings.TrimPrefix(name, "slipway-"), ".")] +
		"-values.yaml:\n#   helm template slipway deploy/helm/slipway --namespace slipway -f <values>\n# Regenerate with: go test ./deploy/helm -update\n# Edit the names of the Secrets and the image before applying.\n"
	want := header + manifest
	path := filepath.Join("..", "kubernetes", name)
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is not the chart's rendering; run go test ./deploy/helm -update", path)
	}
}
