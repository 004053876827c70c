package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// DefaultTenant is the tenant created on first start.
const DefaultTenant = "default"

// Names of the bootstrap secret files in the data directory (mode 0600).
const (
	AdminTokenFile         = "admin-token"
	ProvisioningSecretFile = "provisioning-secret"
)

// Bootstrap configures the default tenant. The values come from the
// original plan's environment variables.
type Bootstrap struct {
	// ProvisioningSecret (MACHINE_PROVISIONING_SECRET) is accepted as a
	// provisioning secret of the default tenant.
	ProvisioningSecret string `json:"-"`
	// FleetSecret (FLEET_SYNC_SECRET) is accepted for Fleet webhooks of the
	// default tenant. Default: the provisioning secrets.
	FleetSecret string `json:"-"`
}

// BootstrapResult says where the generated secrets were written.
type BootstrapResult struct {
	AdminTokenFile         string // "" when no admin token was generated now
	ProvisioningSecretFile string // "" when none was generated now
}

// EnsureBootstrap creates the default tenant with an admin token and a
// provisioning secret on first start, writing their values to files in
// dataDir (0600), and imports the env-provided secrets (idempotent).
func EnsureBootstrap(ctx context.Context, st store.Store, dataDir string, b Bootstrap, now time.Time) (BootstrapResult, error) {
	var res BootstrapResult
	_, err := st.GetTenant(ctx, DefaultTenant)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if res, err = firstStart(ctx, st, dataDir, b, now); err != nil {
			return res, err
		}
	case err != nil:
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	for _, imp := range []struct {
		value string
		kind  store.SecretKind
	}{{b.ProvisioningSecret, store.SecretProvisioning}, {b.FleetSecret, store.SecretFleet}} {
		if err := importSecret(ctx, st, imp.value, imp.kind, now); err != nil {
			return res, err
		}
	}
	return res, nil
}

func firstStart(ctx context.Context, st store.Store, dataDir string, b Bootstrap, nowT time.Time) (BootstrapResult, error) {
	var res BootstrapResult
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	if err := st.CreateTenant(ctx, store.Tenant{ID: DefaultTenant, Name: "Default", CreatedAt: nowT}); err != nil {
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	admin, hash := token.New(token.Admin)
	if err := st.CreateAdminToken(ctx, store.AdminToken{ID: uuid.Must(uuid.NewV7()).String(), Name: "bootstrap",
		Hash: hash, CreatedAt: nowT}); err != nil {
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	res.AdminTokenFile = filepath.Join(dataDir, AdminTokenFile)
	if err := writeSecretFile(res.AdminTokenFile, admin); err != nil {
		return res, err
	}
	if b.ProvisioningSecret != "" {
		return res, nil // the operator brought their own
	}
	prov, phash := token.New(token.Provisioning)
	if err := st.CreateSecret(ctx, store.Secret{ID: uuid.Must(uuid.NewV7()).String(), TenantID: DefaultTenant,
		Kind: store.SecretProvisioning, Hash: phash, Hint: token.Hint(prov), CreatedAt: nowT}); err != nil {
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	res.ProvisioningSecretFile = filepath.Join(dataDir, ProvisioningSecretFile)
	return res, writeSecretFile(res.ProvisioningSecretFile, prov)
}

// importSecret stores an operator-provided secret for the default tenant
// unless a secret with that value already exists.
func importSecret(ctx context.Context, st store.Store, value string, kind store.SecretKind, now time.Time) error {
	if value == "" {
		return nil
	}
	if len(value) < 16 || len(value) > token.MaxLen {
		return fmt.Errorf("bootstrap: %s secret must be 16 to %d characters", kind, token.MaxLen)
	}
	hash := token.Hash(value)
	if _, err := st.FindSecret(ctx, hash); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	hint := token.Hint(value)
	if hint == "" {
		hint = "env"
	}
	err := st.CreateSecret(ctx, store.Secret{ID: uuid.Must(uuid.NewV7()).String(), TenantID: DefaultTenant,
		Kind: kind, Hash: hash, Hint: hint, CreatedAt: now})
	if err != nil {
		return fmt.Errorf("bootstrap: import %s secret: %w", kind, err)
	}
	return nil
}

func writeSecretFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("bootstrap: %w", err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("bootstrap: write %s: %w", path, err)
	}
	return f.Close()
}
