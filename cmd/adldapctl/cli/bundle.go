package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// bundleOptions are mirror build's flags for --bundle.
type bundleOptions struct {
	bundle  bool
	from    string
	version string
	channel string
	proxy   string
	caFiles []string
	node    string
}

func (o *bundleOptions) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&o.bundle, "bundle", false, "also build a connector bundle (node_modules installed here with npm, for servers without registry access) into DIR")
	fl.StringVar(&o.from, "from", "", "with --bundle: build from this connector source tarball `FILE` instead of the feed's release")
	fl.StringVar(&o.version, "version", "", "with --bundle: the connector `VERSION` (default: the feed's latest stable release, or the --from file's name)")
	fl.StringVar(&o.channel, "channel", "stable", "with --bundle: stable or prerelease")
	fl.StringVar(&o.proxy, "proxy", "", "with --bundle: HTTP proxy `URL` for the download and npm")
	fl.StringSliceVar(&o.caFiles, "ca-file", nil, "with --bundle: extra trusted CA certificate `FILE` for the download and npm (repeatable)")
	fl.StringVar(&o.node, "node", "", "with --bundle: build for the node executable at `PATH` (default: node on PATH); servers must run the same node major")
}

// validate checks the flags before anything is fetched or written.
func (o *bundleOptions) validate(cmd *cobra.Command) error {
	if !o.bundle {
		for _, f := range []string{"from", "version", "channel", "proxy", "ca-file", "node"} {
			if cmd.Flags().Changed(f) {
				return usageError{fmt.Errorf("--%s is for --bundle", f)}
			}
		}
		return nil
	}
	if o.version != "" {
		if _, err := updater.ParseVersion(o.version); err != nil {
			return usageError{fmt.Errorf("--version: %w", err)}
		}
	}
	if _, err := updater.ParseChannel(o.channel); err != nil {
		return usageError{err}
	}
	if _, err := updater.NewHTTPClient(updater.ClientOptions{ProxyURL: o.proxy, CAFiles: o.caFiles}); err != nil {
		return usageError{err}
	}
	if o.node != "" {
		node, err := checkExecutable(o.node)
		if err != nil {
			return usageError{fmt.Errorf("--node: %w", err)}
		}
		o.node = node
	}
	return nil
}

// buildBundle puts the connector's source release into dir (from --from or
// the feed) and builds its bundle there.
func (a *app) buildBundle(ctx context.Context, dir string, o *bundleOptions) (*installer.BundleResult, error) {
	if err := a.setup(ctx, false); err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return nil, usageError{fmt.Errorf("mirror build: %s is not a folder", dir)}
	}
	src, ver, err := a.bundleSource(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	tc := a.toolConfig()
	return installer.BuildBundle(ctx, installer.BundleOptions{
		Source: src, Version: ver, OutDir: dir, Node: o.node, Proxy: o.proxy, CAFiles: o.caFiles,
		Limits:  installer.ArchiveLimits{MaxBytes: tc.MaxUnpackedBytes, MaxEntries: tc.MaxArchiveEntries},
		BuiltBy: "adldapctl " + Version, Logf: a.logf,
	})
}

// bundleSource returns the source tarball's path in dir and its version:
// the --from file (copied in), or the feed's release downloaded and
// verified like an install's.
func (a *app) bundleSource(ctx context.Context, dir string, o *bundleOptions) (string, string, error) {
	if o.from != "" {
		file, err := updater.NewFileSource(o.from, o.version)
		if err != nil {
			return "", "", usageError{fmt.Errorf("--from: %w", err)}
		}
		ver := file.Version.String()
		dst := filepath.Join(dir, "ad-ldap-connector-v"+ver+".tar.gz")
		if err := placeSource(file.Path, dst); err != nil {
			return "", "", err
		}
		return dst, ver, nil
	}
	client, err := updater.NewHTTPClient(updater.ClientOptions{ProxyURL: o.proxy, CAFiles: o.caFiles})
	if err != nil {
		return "", "", usageError{err}
	}
	feed := a.feedURL()
	if err := updater.CheckFeedURL(feed); err != nil {
		return "", "", usageError{err}
	}
	var src updater.Source
	if updater.IsGitHubFeedURL(feed) {
		src = &updater.GitHubFeed{BaseURL: feed, Client: client, UserAgent: "adldapctl/" + Version}
	} else if src, err = a.mirrorFeed(feed, client); err != nil {
		return "", "", err
	}
	var rel *updater.Release
	if o.version != "" {
		rel, err = src.Release(ctx, o.version)
	} else {
		rel, err = updater.Latest(ctx, src, updater.Channel(o.channel))
	}
	if err != nil {
		return "", "", err
	}
	art, err := src.Artifact(rel, updater.PlatformLinux)
	if err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(dir, ".adldapctl-download-")
	if err != nil {
		return "", "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // a leftover temp folder is named as ours and harmless
	dl := &updater.Downloader{Client: client, Progress: a.io.ErrOut, TTY: a.io.ErrTTY && !a.json, Logf: a.logf, MaxBytes: a.toolConfig().MaxDownloadBytes}
	got, err := dl.Fetch(ctx, art, tmp, updater.VerifyOptions{})
	if err != nil {
		return "", "", err
	}
	a.logf("%s: sha256 %s (%s)", art.Name, got.SHA256, verifiedText(string(got.Verified)))
	ver := rel.Version.String()
	dst := filepath.Join(dir, "ad-ldap-connector-v"+ver+".tar.gz")
	if err := placeSource(got.Path, dst); err != nil {
		return "", "", err
	}
	return dst, ver, nil
}

// placeSource copies the source tarball src to dst (the mirror's source
// artifact, beside the bundle) unless it is there already. A different
// file of that name is refused: the mirror would list a source that is not
// the bundle's.
func placeSource(src, dst string) error {
	if same, err := sameFile(src, dst); err != nil {
		return err
	} else if same {
		return nil
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("mirror build: %s is already there with other content: move it away, or build the bundle --from it", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".partial"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	if err := errors.Join(cerr, out.Sync(), out.Close()); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return platform.SyncDir(filepath.Dir(dst))
}

// sameFile reports whether dst exists with src's content (or is src).
func sameFile(src, dst string) (bool, error) {
	a, err := os.Stat(src)
	if err != nil {
		return false, err
	}
	b, err := os.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if os.SameFile(a, b) {
		return true, nil
	}
	if a.Size() != b.Size() {
		return false, nil
	}
	ha, err := fileSHA256(src)
	if err != nil {
		return false, err
	}
	hb, err := fileSHA256(dst)
	return err == nil && ha == hb, err
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
