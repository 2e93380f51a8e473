package updater

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"
)

// mtNow is the fixed clock of the mirror tests.
var mtNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func mtClock() time.Time { return mtNow }

func mtKeys(t *testing.T) (minisign.PublicKey, minisign.PrivateKey) {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// mtArtifacts are the fake files of a test mirror.
var mtArtifacts = map[string]string{
	"ad-ldap-connector-v6.4.1.tar.gz":      "linux 6.4.1",
	"adldap-v6.4.1.msi":                    "windows 6.4.1",
	"ad-ldap-connector-v6.5.0.tar.gz":      "linux 6.5.0 tarball bytes",
	"adldap-v6.5.0.msi":                    "windows 6.5.0 msi bytes",
	"ad-ldap-connector-v6.6.0-rc.1.tar.gz": "linux 6.6.0-rc.1",
	"adldapctl-linux-amd64":                "adldapctl 0.4.0 linux",
	"adldapctl-linux-amd64.version":        "0.4.0\n",
	"README.txt":                           "not an artifact",
}

func mtSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func mtWrite(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mtMirror writes the fake artifacts into a new folder and builds a
// mirror there with counter.
func mtMirror(t *testing.T, priv minisign.PrivateKey, counter uint64) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range mtArtifacts {
		mtWrite(t, filepath.Join(dir, name), content)
	}
	if _, err := BuildMirror(dir, priv, BuildOptions{Counter: counter, Now: mtClock}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mtSignMeta writes m as dir's releases.json, signed by priv.
func mtSignMeta(t *testing.T, dir string, priv minisign.PrivateKey, m any) {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	mtWrite(t, filepath.Join(dir, MirrorMetaFile), string(data))
	mtWrite(t, filepath.Join(dir, MirrorSigFile), string(minisign.Sign(priv, data)))
}

// mtServe serves dir over loopback http and counts requests per path.
func mtServe(t *testing.T, dir string) (*httptest.Server, *mtHits) {
	t.Helper()
	hits := &mtHits{m: map[string]int{}}
	fsrv := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r.URL.Path)
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// mtHits counts requests per path.
type mtHits struct {
	mu sync.Mutex
	m  map[string]int
}

func (h *mtHits) add(p string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[p]++
}

func (h *mtHits) get(p string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[p]
}

// mtRead returns the bytes at an asset URL or path.
func mtRead(t *testing.T, loc string) string {
	t.Helper()
	if !strings.HasPrefix(loc, "http") {
		if !filepath.IsAbs(loc) {
			t.Errorf("local asset location %q is not absolute", loc)
		}
		b, err := os.ReadFile(loc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	resp, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", loc, resp.Status)
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMirrorFeedReadsReleases(t *testing.T) {
	pub, priv := mtKeys(t)
	dir := mtMirror(t, priv, 0)
	srv, _ := mtServe(t, dir)
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
	if !strings.HasPrefix(filepath.ToSlash(dir), "/") {
		fileURL = "file:///" + filepath.ToSlash(dir)
	}
	for _, tc := range []struct{ name, base string }{
		{"local dir", dir},
		{"file URL", fileURL},
		{"http", srv.URL},
		{"http with slash", srv.URL + "/"},
		{"http releases.json", srv.URL + "/releases.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &MirrorFeed{Base: tc.base, Client: srv.Client(), PublicKey: pub, Now: mtClock}
			ctx := context.Background()
			var _ Source = f
			r, err := Latest(ctx, f, ChannelStable)
			if err != nil {
				t.Fatal(err)
			}
			if a, err := f.Artifact(r, "linux"); err != nil || a.Trust != TrustSignature || a.SHA256 == "" {
				t.Errorf("Artifact(linux) = %+v, %v; want a signed digest", a, err)
			}
			if r.Version.String() != "6.5.0" || r.Tag != "v6.5.0" || r.Prerelease || r.Draft {
				t.Fatalf("Latest(stable) = %s %+v, want 6.5.0", r.Version, r)
			}
			if len(r.Assets) != 2 {
				t.Fatalf("assets = %+v, want linux and windows", r.Assets)
			}
			for _, a := range r.Assets {
				content := mtArtifacts[a.Name]
				if content == "" {
					t.Fatalf("unexpected asset %+v", a)
				}
				if a.Digest != "sha256:"+mtSum(content) || a.Size != int64(len(content)) {
					t.Errorf("asset %s: digest %s size %d, want sha256:%s size %d", a.Name, a.Digest, a.Size, mtSum(content), len(content))
				}
				if got := mtRead(t, a.URL); got != content {
					t.Errorf("asset %s at %s has %q, want %q", a.Name, a.URL, got, content)
				}
			}
			la, err := r.LinuxArtifact()
			if err != nil {
				t.Fatal(err)
			}
			want := mtArtifacts["ad-ldap-connector-v6.5.0.tar.gz"]
			if la.Name != "ad-ldap-connector-v6.5.0.tar.gz" || la.SHA256 != mtSum(want) || la.Size != int64(len(want)) || la.URL != r.TarballURL {
				t.Errorf("LinuxArtifact = %+v (TarballURL %s)", la, r.TarballURL)
			}
			msi, err := r.MSIArtifact()
			if err != nil || msi.Name != "adldap-v6.5.0.msi" || msi.SHA256 != mtSum(mtArtifacts["adldap-v6.5.0.msi"]) {
				t.Errorf("MSIArtifact = %+v, %v", msi, err)
			}

			pre, err := Latest(ctx, f, ChannelPrerelease)
			if err != nil || pre.Version.String() != "6.6.0-rc.1" || !pre.Prerelease {
				t.Fatalf("Latest(prerelease) = %v, %v; want 6.6.0-rc.1", pre, err)
			}
			if _, err := pre.MSIArtifact(); err == nil {
				t.Error("6.6.0-rc.1 has no MSI, MSIArtifact succeeded")
			}

			old, err := f.Release(ctx, "v6.4.1")
			if err != nil || old.Version.String() != "6.4.1" || len(old.Assets) != 2 {
				t.Fatalf("Release(v6.4.1) = %+v, %v", old, err)
			}
			if _, err := f.Release(ctx, "9.9.9"); !errors.Is(err, ErrReleaseNotFound) {
				t.Errorf("Release(9.9.9) = %v, want ErrReleaseNotFound", err)
			}
			all, err := f.Releases(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var vs []string
			for _, r := range all {
				vs = append(vs, r.Version.String())
			}
			if strings.Join(vs, " ") != "6.6.0-rc.1 6.5.0 6.4.1" {
				t.Errorf("Releases = %v, want newest first", vs)
			}
		})
	}
}

func TestMirrorFeedLoadsOnce(t *testing.T) {
	pub, priv := mtKeys(t)
	srv, hits := mtServe(t, mtMirror(t, priv, 0))
	f := &MirrorFeed{Base: srv.URL, Client: srv.Client(), PublicKey: pub, Now: mtClock}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := Latest(ctx, f, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Release(ctx, "6.4.1"); err != nil {
			t.Fatal(err)
		}
	}
	if n, s := hits.get("/releases.json"), hits.get("/releases.json.minisig"); n != 1 || s != 1 {
		t.Errorf("releases.json fetched %d times, signature %d times; want once each", n, s)
	}
}

func TestMirrorFeedRefusesUnverified(t *testing.T) {
	pub, priv := mtKeys(t)
	otherPub, otherPriv := mtKeys(t)
	ctx := context.Background()

	replace := func(name, old, new string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), old) {
				t.Fatalf("%s has no %q", name, old)
			}
			mtWrite(t, p, strings.Replace(string(b), old, new, 1))
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, dir string)
		key    minisign.PublicKey
		now    time.Time
		want   string
	}{
		{name: "tampered metadata", mutate: replace(MirrorMetaFile, `"6.5.0"`, `"6.9.0"`), want: "does not match its signature"},
		{name: "tampered digest", mutate: replace(MirrorMetaFile, mtSum(mtArtifacts["adldap-v6.5.0.msi"]), strings.Repeat("0", 64)), want: "does not match its signature"},
		{name: "tampered trusted comment", mutate: replace(MirrorSigFile, "trusted comment: timestamp:", "trusted comment: timestamp:1"), want: "does not match its signature"},
		{name: "wrong key", key: otherPub, want: "not by the trusted key " + keyIDHex(otherPub.ID())},
		{name: "signed by another key", mutate: func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, MirrorMetaFile))
			mtWrite(t, filepath.Join(dir, MirrorSigFile), string(minisign.Sign(otherPriv, b)))
		}, want: "is signed by key " + keyIDHex(otherPriv.ID())},
		{name: "missing signature", mutate: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, MirrorSigFile)) }, want: "not signed"},
		{name: "malformed signature", mutate: func(t *testing.T, dir string) { mtWrite(t, filepath.Join(dir, MirrorSigFile), "garbage\n") }, want: "malformed"},
		{name: "huge signature", mutate: func(t *testing.T, dir string) {
			mtWrite(t, filepath.Join(dir, MirrorSigFile), strings.Repeat("x", 8<<10))
		}, want: "malformed"},
		{name: "expired", now: mtNow.Add(91 * 24 * time.Hour), want: "metadata expired at " + mtNow.Add(DefaultMirrorValidity).Format(time.RFC3339) + " (freeze attack or stale mirror: refresh the mirror)"},
		{name: "no expiry", mutate: func(t *testing.T, dir string) {
			mtSignMeta(t, dir, priv, map[string]any{"schema": 1, "counter": 1, "releases": []any{}})
		}, want: "no expiry"},
	} {
		for _, remote := range []bool{false, true} {
			name := tc.name + "/local"
			if remote {
				name = tc.name + "/http"
			}
			t.Run(name, func(t *testing.T) {
				dir := mtMirror(t, priv, 0)
				if tc.mutate != nil {
					tc.mutate(t, dir)
				}
				key := pub
				if !tc.key.Equal(minisign.PublicKey{}) {
					key = tc.key
				}
				now := mtNow
				if !tc.now.IsZero() {
					now = tc.now
				}
				f := &MirrorFeed{Base: dir, PublicKey: key, Now: func() time.Time { return now }}
				if remote {
					srv, _ := mtServe(t, dir)
					f.Base, f.Client = srv.URL, srv.Client()
				}
				counters := filepath.Join(t.TempDir(), "counters.json")
				f.CounterFile = counters
				_, err := Latest(ctx, f, "")
				if !errors.Is(err, ErrVerification) {
					t.Fatalf("Latest = %v, want ErrVerification", err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not say %q", err, tc.want)
				}
				if _, err := os.Stat(counters); !os.IsNotExist(err) {
					t.Errorf("counter recorded from unverified metadata (stat: %v)", err)
				}
			})
		}
	}
}

func TestMirrorFeedRefusesUnsafeEntries(t *testing.T) {
	pub, priv := mtKeys(t)
	sum := mtSum("x")
	for _, tc := range []struct {
		name string
		art  map[string]any
	}{
		{"dot-dot", map[string]any{"platform": "linux", "file": "../etc/passwd", "size": 1, "sha256": sum}},
		{"inner dot-dot", map[string]any{"platform": "linux", "file": "a/../../x.tar.gz", "size": 1, "sha256": sum}},
		{"absolute", map[string]any{"platform": "linux", "file": "/etc/passwd", "size": 1, "sha256": sum}},
		{"backslash", map[string]any{"platform": "windows", "file": `..\x.msi`, "size": 1, "sha256": sum}},
		{"drive", map[string]any{"platform": "windows", "file": "C:/x.msi", "size": 1, "sha256": sum}},
		{"url", map[string]any{"platform": "windows", "file": "https://evil.example/x.msi", "size": 1, "sha256": sum}},
		{"empty segment", map[string]any{"platform": "linux", "file": "a//x.tar.gz", "size": 1, "sha256": sum}},
		{"escaped dot-dot", map[string]any{"platform": "linux", "file": "%2e%2e/x.tar.gz", "size": 1, "sha256": sum}},
		{"bad escape", map[string]any{"platform": "linux", "file": "a%0X.tar.gz", "size": 1, "sha256": sum}},
		{"empty", map[string]any{"platform": "linux", "file": "", "size": 1, "sha256": sum}},
		{"bad digest", map[string]any{"platform": "linux", "file": "x.tar.gz", "size": 1, "sha256": "abc"}},
		{"no size", map[string]any{"platform": "linux", "file": "x.tar.gz", "size": 0, "sha256": sum}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mtSignMeta(t, dir, priv, map[string]any{
				"schema": 1, "counter": 1, "expires": mtNow.Add(time.Hour),
				"releases": []any{map[string]any{"version": "6.5.0", "artifacts": []any{tc.art}}},
			})
			f := &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock}
			if _, err := f.Releases(context.Background()); !errors.Is(err, ErrVerification) {
				t.Fatalf("Releases = %v, want ErrVerification", err)
			}
		})
	}
	// A file in a subfolder is fine.
	dir := t.TempDir()
	mtSignMeta(t, dir, priv, map[string]any{
		"schema": 1, "counter": 1, "expires": mtNow.Add(time.Hour),
		"releases": []any{map[string]any{"version": "6.5.0", "artifacts": []any{
			map[string]any{"platform": "linux", "file": "v6.5.0/ad-ldap-connector-v6.5.0.tar.gz", "size": 1, "sha256": sum},
			map[string]any{"platform": "macos", "file": "v6.5.0/other.pkg", "size": 1, "sha256": sum},
		}}},
	})
	f := &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock}
	r, err := Latest(context.Background(), f, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "v6.5.0", "ad-ldap-connector-v6.5.0.tar.gz"); r.TarballURL != want || len(r.Assets) != 1 {
		t.Errorf("TarballURL = %q, assets %+v; want %q and the unknown platform skipped", r.TarballURL, r.Assets, want)
	}
}

func TestMirrorFeedCounter(t *testing.T) {
	pub, priv := mtKeys(t)
	otherPub, otherPriv := mtKeys(t)
	ctx := context.Background()
	counters := filepath.Join(t.TempDir(), "state", "mirror-counters.json")
	load := func(key minisign.PublicKey, dir string) error {
		t.Helper()
		f := &MirrorFeed{Base: dir, PublicKey: key, Now: mtClock, CounterFile: counters}
		_, err := Latest(ctx, f, "")
		return err
	}
	stored := func() map[string]uint64 {
		t.Helper()
		entries, err := readCounters(counters)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint64{}
		for id, e := range entries {
			m[id] = e.Counter
		}
		return m
	}
	id := keyIDHex(pub.ID())

	if err := load(pub, mtMirror(t, priv, 7)); err != nil {
		t.Fatal(err)
	}
	if got := stored()[id]; got != 7 {
		t.Fatalf("stored counter = %d, want 7", got)
	}
	err := load(pub, mtMirror(t, priv, 5))
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "metadata counter 5 is lower than 7 already accepted (rollback attack or stale mirror)") {
		t.Fatalf("counter 5 after 7: %v, want rollback ErrVerification", err)
	}
	if err := load(pub, mtMirror(t, priv, 7)); err != nil {
		t.Fatalf("equal counter refused: %v", err)
	}
	if err := load(pub, mtMirror(t, priv, 9)); err != nil {
		t.Fatal(err)
	}
	if got := stored()[id]; got != 9 {
		t.Errorf("stored counter = %d, want 9", got)
	}
	// Counters are per key: another key starts from scratch.
	if err := load(otherPub, mtMirror(t, otherPriv, 1)); err != nil {
		t.Fatalf("other key: %v", err)
	}
	if m := stored(); m[id] != 9 || m[keyIDHex(otherPub.ID())] != 1 {
		t.Errorf("stored counters = %v", m)
	}
	// Without a counter file there is no memory across feeds.
	f := &MirrorFeed{Base: mtMirror(t, priv, 2), PublicKey: pub, Now: mtClock}
	if _, err := Latest(ctx, f, ""); err != nil {
		t.Errorf("no counter file: %v", err)
	}
	// A corrupt counter file is an error, never a silent reset.
	mtWrite(t, counters, "{not json")
	if err := load(pub, mtMirror(t, priv, 1)); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt counter file: %v", err)
	}
}

func TestMirrorFeedErrors(t *testing.T) {
	pub, priv := mtKeys(t)
	ctx := context.Background()

	f := &MirrorFeed{Base: mtMirror(t, priv, 0), Now: mtClock}
	if _, err := Latest(ctx, f, ""); err == nil || !strings.Contains(err.Error(), "trusted key") {
		t.Errorf("no key: %v", err)
	}

	empty := t.TempDir()
	srv, _ := mtServe(t, empty)
	for _, base := range []string{empty, srv.URL} {
		f := &MirrorFeed{Base: base, Client: srv.Client(), PublicKey: pub, Now: mtClock}
		_, err := Latest(ctx, f, "")
		if err == nil || errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "check --feed") {
			t.Errorf("%s: no releases.json: %v", base, err)
		}
	}

	f = &MirrorFeed{Base: "http://mirror.example/adldap", PublicKey: pub}
	if _, err := Latest(ctx, f, ""); err == nil || !strings.Contains(err.Error(), "refusing plain http") {
		t.Errorf("plain http: %v", err)
	}

	dir := t.TempDir()
	mtSignMeta(t, dir, priv, map[string]any{"schema": 2, "counter": 1, "expires": mtNow.Add(time.Hour)})
	f = &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock}
	if _, err := Latest(ctx, f, ""); err == nil || !strings.Contains(err.Error(), "schema 2") {
		t.Errorf("schema 2: %v", err)
	}
}

func TestLinuxArtifactOfGitHubRelease(t *testing.T) {
	r := &Release{Tag: "v6.4.1", TarballURL: "https://api.github.com/repos/a/b/tarball/v6.4.1",
		Assets: []Asset{{Name: "adldap-v6.4.1.msi", URL: "https://x/adldap-v6.4.1.msi", Digest: "sha256:" + mtSum("x")}}}
	if a, err := r.LinuxArtifact(); err == nil {
		t.Errorf("LinuxArtifact of a GitHub release = %+v, want an error", a)
	}
}

func TestLoadPublicKey(t *testing.T) {
	pub, _ := mtKeys(t)
	text, _ := pub.MarshalText()
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "mirror.pub")
	mtWrite(t, pubFile, string(text)+"\n")
	crlf := filepath.Join(dir, "crlf.pub")
	mtWrite(t, crlf, strings.ReplaceAll(string(text), "\n", "\r\n")+"\r\n")

	for _, in := range []string{pub.String(), " " + pub.String() + "\n", string(text), pubFile, crlf} {
		got, err := LoadPublicKey(in)
		if err != nil {
			t.Errorf("LoadPublicKey(%q): %v", in, err)
			continue
		}
		if !got.Equal(pub) {
			t.Errorf("LoadPublicKey(%q) = %s, want %s", in, got, pub)
		}
	}
	for _, in := range []string{"", "RWQnotakey", filepath.Join(dir, "missing.pub"), filepath.Join(dir)} {
		if _, err := LoadPublicKey(in); err == nil {
			t.Errorf("LoadPublicKey(%q) succeeded", in)
		}
	}
}

func TestIsMirrorFeed(t *testing.T) {
	for in, want := range map[string]bool{
		DefaultFeedURL:                      false,
		"https://mirror.example/adldap":     true,
		"/srv/mirror":                       true,
		`\\server\share\mirror`:             true,
		"file:///srv/mirror":                true,
		"http://127.0.0.1:8080/repos/o/r":   false,
		"https://mirror.example/repos/o/r/": false,
		"":                                  false,
	} {
		if got := IsMirrorFeed(in); got != want {
			t.Errorf("IsMirrorFeed(%q) = %v, want %v", in, got, want)
		}
	}
}
