package updater

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/scrypt"
)

func TestBuildMirror(t *testing.T) {
	pub, priv := mtKeys(t)
	dir := t.TempDir()
	for name, content := range mtArtifacts {
		mtWrite(t, filepath.Join(dir, name), content)
	}
	var logged []string
	meta, err := BuildMirror(dir, priv, BuildOptions{Now: mtClock, Logf: func(f string, a ...any) { logged = append(logged, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Schema != 1 || meta.Counter != 1 || !meta.Expires.Equal(mtNow.Add(90*24*time.Hour)) {
		t.Errorf("meta = schema %d counter %d expires %s", meta.Schema, meta.Counter, meta.Expires)
	}
	if len(logged) == 0 {
		t.Error("nothing logged")
	}

	// The file on disk, as a client reads it.
	data, err := os.ReadFile(filepath.Join(dir, MirrorMetaFile))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(filepath.Join(dir, MirrorSigFile))
	if err != nil {
		t.Fatal(err)
	}
	if !minisign.Verify(pub, data, sig) {
		t.Fatal("releases.json.minisig does not verify")
	}
	var raw struct {
		Schema   int    `json:"schema"`
		Counter  uint64 `json:"counter"`
		Expires  string `json:"expires"`
		Releases []struct {
			Version    string `json:"version"`
			Prerelease bool   `json:"prerelease"`
			Artifacts  []struct {
				Platform, File, SHA256 string
				Size                   int64
			} `json:"artifacts"`
		} `json:"releases"`
		Tools []struct {
			Version, Platform, File, SHA256 string
			Size                            int64
		} `json:"tools"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Schema != 1 || raw.Counter != 1 || raw.Expires != "2026-08-30T12:00:00Z" {
		t.Errorf("header = %d %d %q", raw.Schema, raw.Counter, raw.Expires)
	}
	var got []string
	for _, r := range raw.Releases {
		var arts []string
		for _, a := range r.Artifacts {
			if a.SHA256 != mtSum(mtArtifacts[a.File]) || a.Size != int64(len(mtArtifacts[a.File])) {
				t.Errorf("%s: sha256 %s size %d", a.File, a.SHA256, a.Size)
			}
			arts = append(arts, a.Platform+"="+a.File)
		}
		pre := ""
		if r.Prerelease {
			pre = "(pre)"
		}
		got = append(got, r.Version+pre+":"+strings.Join(arts, ","))
	}
	want := []string{
		"6.6.0-rc.1(pre):linux=ad-ldap-connector-v6.6.0-rc.1.tar.gz",
		"6.5.0:linux=ad-ldap-connector-v6.5.0.tar.gz,windows=adldap-v6.5.0.msi",
		"6.4.1:linux=ad-ldap-connector-v6.4.1.tar.gz,windows=adldap-v6.4.1.msi",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("releases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	bin := mtArtifacts["adldapctl-linux-amd64"]
	if len(raw.Tools) != 1 || raw.Tools[0].Version != "0.4.0" || raw.Tools[0].Platform != "linux-amd64" ||
		raw.Tools[0].File != "adldapctl-linux-amd64" || raw.Tools[0].SHA256 != mtSum(bin) || raw.Tools[0].Size != int64(len(bin)) {
		t.Errorf("tools = %+v", raw.Tools)
	}
	toolSig, err := os.ReadFile(filepath.Join(dir, "adldapctl-linux-amd64.minisig"))
	if err != nil {
		t.Fatal(err)
	}
	if !minisign.Verify(pub, []byte(bin), toolSig) {
		t.Error("adldapctl-linux-amd64.minisig does not verify")
	}
	if minisign.Verify(pub, []byte(bin+"x"), toolSig) {
		t.Error("tool signature verifies other bytes")
	}
}

func TestBuildMirrorCounter(t *testing.T) {
	_, priv := mtKeys(t)
	_, other := mtKeys(t)
	dir := t.TempDir()
	mtWrite(t, filepath.Join(dir, "adldap-v6.4.1.msi"), "msi")
	build := func(key minisign.PrivateKey, counter uint64) (uint64, error) {
		m, err := BuildMirror(dir, key, BuildOptions{Counter: counter, Now: mtClock})
		if err != nil {
			return 0, err
		}
		return m.Counter, nil
	}
	for _, step := range []struct {
		key     minisign.PrivateKey
		counter uint64
		want    uint64
		err     string
	}{
		{priv, 0, 1, ""},
		{priv, 0, 2, ""},
		{priv, 10, 10, ""},
		{priv, 10, 10, ""},
		{priv, 0, 11, ""},
		{priv, 3, 0, "lower than the mirror's current 11"},
		{other, 3, 3, ""}, // a new key starts its own count
		{other, 0, 4, ""},
	} {
		got, err := build(step.key, step.counter)
		if step.err != "" {
			if err == nil || !strings.Contains(err.Error(), step.err) {
				t.Fatalf("counter %d: %v, want %q", step.counter, err, step.err)
			}
			continue
		}
		if err != nil || got != step.want {
			t.Fatalf("counter %d: got %d, %v; want %d", step.counter, got, err, step.want)
		}
	}
}

func TestBuildMirrorErrors(t *testing.T) {
	_, priv := mtKeys(t)
	for _, tc := range []struct {
		name  string
		files map[string]string
		opts  BuildOptions
		want  string
	}{
		{"empty", map[string]string{"README": "x"}, BuildOptions{}, "no artifacts"},
		{"tool without version", map[string]string{"adldapctl-linux-amd64": "x"}, BuildOptions{}, "adldapctl-linux-amd64.version"},
		{"bad tool version", map[string]string{"adldapctl-linux-amd64": "x", "adldapctl-linux-amd64.version": "latest"}, BuildOptions{}, "invalid version"},
		{"two tools for a platform", map[string]string{
			"adldapctl-windows-amd64": "x", "adldapctl-windows-amd64.exe": "y", "adldapctl-windows-amd64.version": "1.0.0",
		}, BuildOptions{}, "keep one"},
		{"empty file", map[string]string{"adldap-v6.4.1.msi": ""}, BuildOptions{}, "empty"},
		{"expired", map[string]string{"adldap-v6.4.1.msi": "x"}, BuildOptions{Expires: mtNow.Add(-time.Hour)}, "not in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				mtWrite(t, filepath.Join(dir, n), c)
			}
			tc.opts.Now = mtClock
			_, err := BuildMirror(dir, priv, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("BuildMirror = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, MirrorMetaFile)); !os.IsNotExist(err) {
				t.Errorf("releases.json written despite the error")
			}
		})
	}
	if _, err := BuildMirror(t.TempDir(), minisign.PrivateKey{}, BuildOptions{}); err == nil {
		t.Error("BuildMirror with no key succeeded")
	}
}

func TestGenerateAndLoadKeys(t *testing.T) {
	dir := t.TempDir()
	pubPath, keyPath := filepath.Join(dir, "mirror.pub"), filepath.Join(dir, "mirror.key")
	pub, err := GenerateKeyPair(pubPath, keyPath, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyPath); err != nil || (st.Mode().Perm()&0o077 != 0 && filepath.Separator == '/') {
		t.Errorf("key file mode: %v, %v", st, err)
	}
	if _, err := GenerateKeyPair(pubPath, keyPath, ""); err == nil {
		t.Error("GenerateKeyPair overwrote an existing key")
	}
	loadedPub, err := LoadPublicKey(pubPath)
	if err != nil || !loadedPub.Equal(pub) {
		t.Fatalf("LoadPublicKey = %v, %v", loadedPub, err)
	}
	key, err := LoadPrivateKey(keyPath, "ignored for an unencrypted key")
	if err != nil {
		t.Fatal(err)
	}
	if !minisign.Verify(pub, []byte("m"), minisign.Sign(key, []byte("m"))) {
		t.Error("loaded private key does not match the public key")
	}

	// An encrypted key (made with cheap scrypt parameters).
	enc := filepath.Join(dir, "enc.key")
	mtWrite(t, enc, mtEncryptKey(t, key, "s3cret"))
	k2, err := LoadPrivateKey(enc, "s3cret")
	if err != nil || !k2.Equal(key) {
		t.Fatalf("LoadPrivateKey(encrypted) = %v", err)
	}
	if _, err := LoadPrivateKey(enc, "wrong"); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := LoadPrivateKey(enc, ""); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("no password: %v", err)
	}
	if _, err := LoadPrivateKey(pubPath, ""); err == nil {
		t.Error("a public key loaded as a private key")
	}
}

// mtEncryptKey encrypts key the way minisign does, with the lowest scrypt
// cost minisign reads (minisign.EncryptKey uses 1 GB of memory).
func mtEncryptKey(t *testing.T, key minisign.PrivateKey, password string) string {
	t.Helper()
	plainText, _ := key.MarshalText()
	lines := strings.SplitN(string(plainText), "\n", 2)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[1]))
	if err != nil || len(raw) != 158 {
		t.Fatalf("unexpected key encoding: %v", err)
	}
	plain := raw[54:126] // key ID || Ed25519 private key
	msg := append([]byte{0x45, 0x64}, plain...)
	sum := blake2b.Sum256(msg)
	salt := make([]byte, 32)
	// ops and mem 0: minisign raises ops to 2^15 and picks N=2, r=8, p=512.
	stream, err := scrypt.Key([]byte(password), salt, 2, 8, 512, 104)
	if err != nil {
		t.Fatal(err)
	}
	ct := append(append([]byte{}, plain...), sum[:]...)
	for i := range ct {
		ct[i] ^= stream[i]
	}
	out := make([]byte, 158)
	binary.LittleEndian.PutUint16(out[0:], 0x6445) // Ed
	binary.LittleEndian.PutUint16(out[2:], 0x6353) // Sc
	binary.LittleEndian.PutUint16(out[4:], 0x3242) // B2
	copy(out[6:38], salt)
	copy(out[54:], ct)
	return "untrusted comment: minisign encrypted secret key\n" + base64.StdEncoding.EncodeToString(out) + "\n"
}
