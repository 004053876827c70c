package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/channel"
)

// releaseKeyCmd changes a product's minisign release key with an overlap:
// endorse starts it (both keys accepted), retire ends it (new key only).
func releaseKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "release-key", Short: "Change a product's minisign release key with an overlap period"}
	var oldSecret, newPub string
	var pw passwordFlags
	endorse := editCommand("endorse <product> --old-key minisign.key --new-pub new.pub",
		"Start a key change: list the new key next to the old one, endorsed by the old secret key", 1,
		func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error) {
			next, err := readPublicKey(newPub)
			if err != nil {
				return "", err
			}
			password, _, err := pw.fromEnv()
			if err != nil {
				return "", err
			}
			text, err := os.ReadFile(oldSecret)
			if err != nil {
				return "", err
			}
			sk, err := minisign.ParseSecretKey(text, password)
			clear(password)
			if err != nil {
				return "", fmt.Errorf("%s: %w", oldSecret, err)
			}
			if err := f.Endorse(args[0], sk, sk.Public(), next, time.Now()); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s: release key %s endorsed by %s; clients accept both until `slipway release-key retire %s %s`",
				args[0], next.ID, sk.ID, args[0], sk.ID), nil
		})
	endorse.Flags().StringVar(&oldSecret, "old-key", "", "the current minisign secret key (it signs the endorsement)")
	endorse.Flags().StringVar(&newPub, "new-pub", "", "the new minisign public key")
	pw.register(endorse, "")
	_ = endorse.MarkFlagRequired("old-key")
	_ = endorse.MarkFlagRequired("new-pub")
	retire := editCommand("retire <product> <key-id>", "End a key change's overlap: clients stop accepting the key", 2,
		func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error) {
			// The id as minisign and `slipway release-key endorse` print it.
			n, err := strconv.ParseUint(strings.TrimSpace(args[1]), 16, 64)
			if err != nil {
				return "", fmt.Errorf("key id %q: want 16 hex digits as minisign prints it", args[1])
			}
			var id minisign.KeyID
			binary.LittleEndian.PutUint64(id[:], n)
			return fmt.Sprintf("%s: release key %s retired", args[0], id), f.Retire(args[0], id)
		})
	cmd.AddCommand(endorse, retire)
	return cmd
}

func readPublicKey(path string) (*minisign.PublicKey, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pk, err := minisign.ParsePublicKey(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pk, nil
}

func init() { register(releaseKeyCmd) }
