package testfeed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/adldapctl/adldapctl/updater"
)

// fakeMSI is asset content for the shape tests (the Wine test serves a
// real MSI).
func fakeMSI(v string) AssetSpec {
	data := bytes.Repeat([]byte("MSI "+v+" "), 3000)
	return AssetSpec{Name: MSIName(v), Data: data}
}

func TestServerAssetJSON(t *testing.T) {
	msi := fakeMSI("6.5.0")
	notes := AssetSpec{Name: "notes.txt", Data: []byte("hello\n"), ContentType: "text/plain"}
	s := startServer(t, []ReleaseSpec{
		{Version: "6.4.1"},
		{Version: "6.5.0", Assets: []AssetSpec{msi, notes}},
	})
	var rel struct {
		TagName string           `json:"tag_name"`
		Assets  []map[string]any `json:"assets"`
	}
	getJSON(t, s.URL+"/releases/tags/v6.5.0", &rel)
	if len(rel.Assets) != 2 {
		t.Fatalf("v6.5.0 has %d assets, want 2: %v", len(rel.Assets), rel.Assets)
	}
	a := rel.Assets[0]
	sum := sha256.Sum256(msi.Data)
	want := map[string]any{
		"name":                 "adldap-v6.5.0.msi",
		"size":                 float64(len(msi.Data)),
		"content_type":         "application/x-msi",
		"state":                "uploaded",
		"digest":               "sha256:" + hex.EncodeToString(sum[:]),
		"browser_download_url": s.AssetURL("6.5.0", "adldap-v6.5.0.msi"),
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("asset %s = %#v, want %#v", k, a[k], v)
		}
	}
	for _, k := range []string{"url", "id", "label", "uploader", "download_count", "created_at", "updated_at"} {
		if _, ok := a[k]; !ok {
			t.Errorf("asset has no %q: %v", k, a)
		}
	}
	if got := s.AssetURL("6.5.0", "adldap-v6.5.0.msi"); !strings.HasPrefix(got, strings.TrimSuffix(s.URL, RepoPath)+"/auth0/ad-ldap-connector/releases/download/v6.5.0/") {
		t.Errorf("AssetURL = %s: not GitHub's download path on the feed's host", got)
	}
	if rel.Assets[1]["content_type"] != "text/plain" {
		t.Errorf("second asset content_type = %v", rel.Assets[1]["content_type"])
	}

	// A release without assets still has an empty list, not null.
	resp, b := get(t, s.URL+"/releases/tags/v6.4.1", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"assets": []`)) {
		t.Errorf("v6.4.1: %s %s", resp.Status, b)
	}

	// The bytes at browser_download_url, and at the API url with
	// Accept: application/octet-stream; the API url alone is the JSON.
	for _, u := range []struct {
		url string
		hdr map[string]string
	}{
		{a["browser_download_url"].(string), nil},
		{a["url"].(string), map[string]string{"Accept": "application/octet-stream"}},
	} {
		resp, body := get(t, u.url, u.hdr)
		got := sha256.Sum256(body)
		if resp.StatusCode != http.StatusOK || got != sum {
			t.Errorf("GET %s: %s, %d bytes, sha256 %x; want the asset", u.url, resp.Status, len(body), got)
		}
	}
	var one map[string]any
	getJSON(t, a["url"].(string), &one)
	if one["digest"] != want["digest"] {
		t.Errorf("asset API JSON = %v", one)
	}

	// Unknown names and versions are 404.
	for _, u := range []string{
		s.AssetURL("6.5.0", "nope.msi"),
		s.AssetURL("6.4.1", "adldap-v6.5.0.msi"),
		s.AssetURL("9.9.9", "adldap-v9.9.9.msi"),
		s.URL + "/releases/assets/12",
	} {
		if resp, _ := get(t, u, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", u, resp.Status)
		}
	}

	// Bad specs are refused.
	for _, bad := range [][]AssetSpec{
		{{Name: "a/b.msi"}},
		{{Name: "..\\x.msi"}},
		{{Name: " x.msi"}},
		{{Name: ""}},
		{{Name: "x.msi"}, {Name: "X.MSI"}},
	} {
		if err := s.AddRelease(ReleaseSpec{Version: "7.0.0", Assets: bad}); err == nil {
			t.Errorf("AddRelease with assets %v: no error", bad)
		}
	}
}

func TestServerAssetRange(t *testing.T) {
	msi := fakeMSI("6.5.0")
	s := startServer(t, []ReleaseSpec{{Version: "6.5.0", Assets: []AssetSpec{msi}}})
	url := s.AssetURL("6.5.0", msi.Name)
	resp, _ := get(t, url, nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("headers: %v", resp.Header)
	}
	resp, body := get(t, url, map[string]string{"Range": "bytes=100-", "If-Range": etag})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, msi.Data[100:]) {
		t.Errorf("Range bytes=100-: %s, %d bytes", resp.Status, len(body))
	}
	if want := fmt.Sprintf("bytes 100-%d/%d", len(msi.Data)-1, len(msi.Data)); resp.Header.Get("Content-Range") != want {
		t.Errorf("Content-Range = %q, want %q", resp.Header.Get("Content-Range"), want)
	}
	resp, body = get(t, url, map[string]string{"Range": "bytes=10-19", "If-Range": `"stale"`})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, msi.Data) {
		t.Errorf("If-Range stale: %s, %d bytes; want 200 and the whole file", resp.Status, len(body))
	}
	if s.RangeRequests(url) != 2 || s.Requests(url) != 3 {
		t.Errorf("counters: %d requests, %d with Range", s.Requests(url), s.RangeRequests(url))
	}
}

// TestUpdaterPicksMSI: the updater's GitHub feed reads the assets this
// server publishes, picks the MSI for windows with its digest, and its
// downloader verifies it; a tampered asset fails the verification.
func TestUpdaterPicksMSI(t *testing.T) {
	msi := fakeMSI("6.5.0")
	s := startServer(t, []ReleaseSpec{
		{Version: "6.4.1", Assets: []AssetSpec{fakeMSI("6.4.1")}},
		{Version: "6.5.0", Assets: []AssetSpec{{Name: "checksums.txt", Data: []byte("x")}, msi}},
	})
	feed := &updater.GitHubFeed{BaseURL: s.URL}
	ctx := context.Background()
	rel, err := feed.Release(ctx, "6.5.0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := feed.Artifact(rel, "windows")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(msi.Data)
	if a.Name != "adldap-v6.5.0.msi" || a.URL != s.AssetURL("6.5.0", a.Name) ||
		a.Size != int64(len(msi.Data)) || a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("Artifact(windows) = %+v", a)
	}
	if lin, err := feed.Artifact(rel, "linux"); err != nil || lin.URL != s.TarballURL("6.5.0") {
		t.Errorf("Artifact(linux) = %+v, %v; want the tarball", lin, err)
	}
	res, err := (&updater.Downloader{}).Fetch(ctx, a, t.TempDir(), updater.VerifyOptions{RequireDigest: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(res.Path)
	if err != nil || !bytes.Equal(got, msi.Data) || res.Verified != updater.TrustDigest {
		t.Fatalf("Fetch: %+v, %v", res, err)
	}

	// The feed's digest is what the download is checked against.
	a.SHA256 = strings.Repeat("0", 64)
	if _, err := (&updater.Downloader{}).Fetch(ctx, a, t.TempDir(), updater.VerifyOptions{}); err == nil {
		t.Fatal("Fetch with a wrong digest succeeded")
	}

	// Without an MSI asset the windows artifact is an error.
	if err := s.AddRelease(ReleaseSpec{Version: "6.6.0"}); err != nil {
		t.Fatal(err)
	}
	rel, err = feed.Release(ctx, "6.6.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := feed.Artifact(rel, "windows"); err == nil || !strings.Contains(err.Error(), "no MSI") {
		t.Errorf("Artifact(windows) without an MSI: %v", err)
	}
	var raw []json.RawMessage
	getJSON(t, s.URL+"/releases", &raw)
	if len(raw) != 3 {
		t.Errorf("%d releases listed", len(raw))
	}
}
