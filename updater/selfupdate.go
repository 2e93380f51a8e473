package updater

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-version"
	"github.com/minio/selfupdate"
)

// maxToolBinary bounds an adldapctl build: minio/selfupdate holds it in
// memory.
const maxToolBinary = 256 << 20

// SelfUpdateOptions configures SelfUpdate.
type SelfUpdateOptions struct {
	// Feed is the signed mirror that lists adldapctl builds ("tools").
	Feed *MirrorFeed
	// Current is the running adldapctl version.
	Current string
	// Platform is GOOS-GOARCH of the build to install, such as
	// "linux-amd64".
	Platform string
	// TargetPath is the adldapctl binary to replace (symlinks are
	// followed). Required: never /proc/self/exe, which after one update
	// points at the old file.
	TargetPath string
	// Channel admits prerelease builds when ChannelPrerelease; "" is
	// stable.
	Channel Channel
	// Force installs the newest build even when it is not newer than
	// Current (reinstall, downgrade, or a Current that is not a version).
	Force bool
	// Logf receives progress lines; nil for none.
	Logf func(format string, args ...any)
}

// SelfUpdateResult says what SelfUpdate did.
type SelfUpdateResult struct {
	From    string // Current
	To      string // the version now at Path (From when nothing changed)
	Path    string // the binary, symlinks resolved
	Updated bool   // false: already current
	SHA256  string // hex digest of the installed build; "" when not updated
}

// SelfUpdate replaces the adldapctl binary at o.TargetPath with the newest
// build for o.Platform in the mirror, when it is newer than o.Current (or
// always with o.Force). The build must have the size and sha256 the
// verified metadata lists and a minisign signature (<file>.minisig) by the
// feed's trusted key; any mismatch wraps ErrVerification and leaves the
// binary untouched. The swap is minio/selfupdate's: the new file is
// written next to the target, the target renamed aside, the new one
// renamed in (on Windows the old one stays, hidden, as .NAME.old).
func SelfUpdate(ctx context.Context, o SelfUpdateOptions) (*SelfUpdateResult, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.Feed == nil {
		return nil, errors.New("self-update needs a signed mirror feed (--feed and --trusted-key)")
	}
	if o.TargetPath == "" {
		return nil, errors.New("self-update: no target path (the adldapctl binary to replace)")
	}
	if p := filepath.ToSlash(o.TargetPath); strings.HasPrefix(p, "/proc/") {
		return nil, fmt.Errorf("self-update: target %s is a /proc link: give the binary's real path", o.TargetPath)
	}
	if o.Platform == "" {
		return nil, errors.New("self-update: no platform (such as linux-amd64)")
	}
	ch, err := ParseChannel(string(o.Channel))
	if err != nil {
		return nil, err
	}
	target, err := filepath.EvalSymlinks(o.TargetPath)
	if err != nil {
		return nil, fmt.Errorf("self-update: %w", err)
	}
	st, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("self-update: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("self-update: %s is not a regular file", target)
	}

	meta, err := o.Feed.Meta(ctx)
	if err != nil {
		return nil, err
	}
	tool, newest, err := pickTool(meta.Tools, o.Platform, ch)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", o.Feed.where(), err)
	}
	cur, curErr := ParseVersion(o.Current)
	res := &SelfUpdateResult{From: o.Current, To: o.Current, Path: target}
	switch {
	case curErr != nil && !o.Force:
		return nil, fmt.Errorf("running adldapctl version %q is not a release version: use --force to replace it with %s", o.Current, newest)
	case curErr == nil && !newest.GreaterThan(cur) && !o.Force:
		logf("adldapctl %s is current (newest in the mirror for %s: %s)", o.Current, o.Platform, newest)
		return res, nil
	case curErr == nil && newest.LessThan(cur):
		logf("downgrading adldapctl from %s to %s (--force)", o.Current, newest)
	case curErr == nil && newest.Equal(cur):
		logf("reinstalling adldapctl %s (--force)", newest)
	}
	if err := (&selfupdate.Options{TargetPath: target}).CheckPermissions(); err != nil {
		return nil, fmt.Errorf("self-update: cannot write next to %s: %w (run as root or Administrator)", target, err)
	}

	if tool.Size > maxToolBinary {
		return nil, fmt.Errorf("%w: %s: the metadata announces %d bytes, more than adldapctl accepts for itself (%s)", ErrVerification, tool.File, tool.Size, formatBytes(maxToolBinary))
	}
	logf("downloading adldapctl %s for %s (%s)", newest, o.Platform, tool.File)
	bin, err := o.Feed.fetch(ctx, tool.File, tool.Size)
	switch {
	case errors.Is(err, errMirrorTooLarge):
		return nil, fmt.Errorf("%w: %s is larger than the %d bytes the metadata announces", ErrVerification, tool.File, tool.Size)
	case err != nil:
		return nil, fmt.Errorf("self-update: %w", err)
	case int64(len(bin)) != tool.Size:
		return nil, fmt.Errorf("%w: %s: got %d bytes, the metadata announces %d", ErrVerification, tool.File, len(bin), tool.Size)
	}
	sum := sha256.Sum256(bin)
	if got := hex.EncodeToString(sum[:]); got != tool.SHA256 {
		return nil, fmt.Errorf("%w: %s: sha256 mismatch: the metadata says %s, downloaded file is %s", ErrVerification, tool.File, tool.SHA256, got)
	}
	sig, err := o.Feed.fetch(ctx, tool.File+".minisig", maxMinisig)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s has no signature (%s.minisig): rebuild the mirror with adldapctl mirror build", ErrVerification, tool.File, tool.File)
	case err != nil:
		return nil, fmt.Errorf("self-update: %w", err)
	}
	if err := verifyMinisig(o.Feed.PublicKey, bin, sig, tool.File); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// minio/selfupdate checks the checksum and signature again itself; its
	// verifier reads the signature from a file and takes the public key
	// as text.
	v, err := selfupdateVerifier(o.Feed, sig)
	if err != nil {
		return nil, err
	}
	opts := selfupdate.Options{TargetPath: target, TargetMode: st.Mode().Perm(), Checksum: sum[:], Verifier: v}
	if err := selfupdate.Apply(bytes.NewReader(bin), opts); err != nil {
		if rerr := selfupdate.RollbackError(err); rerr != nil {
			return nil, fmt.Errorf("replace %s: %v; putting the previous binary back also failed (%v): it is at %s, restore it by hand",
				target, err, rerr, filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".old"))
		}
		_ = os.Remove(filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".new")) // best effort; may not exist
		return nil, fmt.Errorf("replace %s: %w (the current binary is unchanged)", target, err)
	}
	res.To, res.Updated, res.SHA256 = newest.String(), true, tool.SHA256
	logf("adldapctl %s installed at %s (sha256 %s, signed by key %s)", newest, target, tool.SHA256, keyIDHex(o.Feed.PublicKey.ID()))
	return res, nil
}

// pickTool returns the newest tool for platform admitted by ch.
func pickTool(tools []MirrorTool, plat string, ch Channel) (MirrorTool, *version.Version, error) {
	var best MirrorTool
	var bestV *version.Version
	for _, t := range tools {
		if t.Platform != plat {
			continue
		}
		v, err := ParseVersion(t.Version)
		if err != nil || !ch.Admits(v.Prerelease() != "", false) {
			continue
		}
		if bestV == nil || v.GreaterThan(bestV) {
			best, bestV = t, v
		}
	}
	if bestV == nil {
		return best, nil, fmt.Errorf("no adldapctl build for %s: %w", plat, ErrReleaseNotFound)
	}
	return best, bestV, nil
}

// selfupdateVerifier loads sig and the feed's key into a minio/selfupdate
// verifier.
func selfupdateVerifier(f *MirrorFeed, sig []byte) (*selfupdate.Verifier, error) {
	tmp, err := os.CreateTemp("", "adldapctl-*.minisig")
	if err != nil {
		return nil, fmt.Errorf("self-update: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a temp file: best effort
	_, err = tmp.Write(sig)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("self-update: %w", err)
	}
	v := selfupdate.NewVerifier()
	if err := v.LoadFromFile(tmp.Name(), f.PublicKey.String()); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrVerification, err)
	}
	return v, nil
}
