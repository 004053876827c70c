package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrate(t *testing.T) {
	t.Setenv("SLIPWAY_DATABASE_URL", "")
	dir := t.TempDir()
	out, err := runSlipway(t, "migrate", "--data", dir)
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "slipway.db")); err != nil {
		t.Fatal(err)
	}
	if out, err := runSlipway(t, "migrate", "--database-url", "mysql://u:secret@h/db"); err == nil || strings.Contains(out+err.Error(), "secret") {
		t.Fatalf("bad URL: %v\n%s", err, out)
	}
}
