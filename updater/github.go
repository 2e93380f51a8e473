package updater

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// DefaultFeedURL is the connector's public GitHub releases feed.
const DefaultFeedURL = "https://api.github.com/repos/auth0/ad-ldap-connector"

// ErrReleaseNotFound is wrapped when a feed has no release that matches.
var ErrReleaseNotFound = errors.New("release not found")

// Asset is a file attached to a release.
type Asset struct {
	Name   string
	URL    string
	Size   int64
	Digest string // "sha256:<hex>", or "" when the feed has none
}

// Release is one release from a feed.
type Release struct {
	Version     *version.Version
	Tag         string
	Prerelease  bool
	Draft       bool
	TarballURL  string
	Assets      []Asset
	PublishedAt time.Time
	// Bundles are the release's connector bundles (node_modules built),
	// with their verified digests; only signed mirrors have them.
	Bundles []Bundle
}

// Artifact is something to download: a release asset or a source tarball.
type Artifact struct {
	Name   string // file name in the download directory
	URL    string
	Size   int64  // expected size in bytes; 0 when unknown
	SHA256 string // hex digest from the feed; "" when the feed has none
	// Trust names what vouches for SHA256 when it is set: TrustDigest for a
	// digest the feed published over HTTPS, TrustSignature for one in a
	// signed mirror's metadata. Empty means TrustDigest.
	Trust Trust
	// Feed is the location of the feed that named the artifact, as
	// given (it may hold credentials: redact before showing it). Each
	// Source's Artifact sets it; Fetch then checks the origin again
	// (CheckArtifactOrigin) right before the download. "" for an
	// artifact no feed named (a file the admin gave).
	Feed string
}

// Trust is the basis on which a downloaded artifact was accepted.
type Trust string

// Trust bases, strongest last.
const (
	TrustNone       Trust = "none"        // nothing to check against: HTTPS to the feed vouches
	TrustDigest     Trust = "digest"      // the feed's published sha256 matched
	TrustSignature  Trust = "signature"   // a signed mirror's sha256 matched
	TrustUserSHA256 Trust = "user-sha256" // the sha256 the user gave matched
)

// SourceArtifact returns the release's source tarball (what Linux installs
// run npm ci on). GitHub publishes no digest for it.
func (r *Release) SourceArtifact() Artifact {
	return Artifact{Name: "ad-ldap-connector-" + safeName(r.Tag) + ".tar.gz", URL: r.TarballURL}
}

// MSIArtifact returns the release's Windows installer: the asset named
// adldap-vX.Y.Z.msi, or failing that the release's only .msi asset.
func (r *Release) MSIArtifact() (Artifact, error) {
	var want []string
	if r.Version != nil {
		want = append(want, "adldap-"+tagFor(r.Version)+".msi")
	}
	if r.Tag != "" {
		want = append(want, "adldap-v"+strings.TrimPrefix(r.Tag, "v")+".msi")
	}
	for _, w := range want {
		for _, a := range r.Assets {
			if strings.EqualFold(a.Name, w) {
				return a.artifact(), nil
			}
		}
	}
	var msis []Asset
	for _, a := range r.Assets {
		if strings.HasSuffix(strings.ToLower(a.Name), ".msi") {
			msis = append(msis, a)
		}
	}
	switch len(msis) {
	case 1:
		return msis[0].artifact(), nil
	case 0:
		return Artifact{}, fmt.Errorf("release %s has no MSI asset (expected %s)", r.Tag, firstOr(want, "adldap-vX.Y.Z.msi"))
	}
	names := make([]string, len(msis))
	for i, a := range msis {
		names[i] = a.Name
	}
	return Artifact{}, fmt.Errorf("release %s has several MSI assets (%s) and none is named %s", r.Tag, strings.Join(names, ", "), firstOr(want, "adldap-vX.Y.Z.msi"))
}

func (a Asset) artifact() Artifact {
	return Artifact{Name: a.Name, URL: a.URL, Size: a.Size, SHA256: digestHex(a.Digest)}
}

// digestHex returns the hex of a "sha256:<hex>" digest, or "" for any
// other algorithm or an empty digest.
func digestHex(d string) string {
	algo, hex, ok := strings.Cut(strings.TrimSpace(d), ":")
	if !ok || !strings.EqualFold(algo, "sha256") {
		return ""
	}
	return strings.ToLower(hex)
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// safeName keeps a tag usable inside a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '\\', ':', '*', '?', '"', '<', '>', '|':
			return '_'
		}
		if r < ' ' {
			return '_'
		}
		return r
	}, s)
}

// Source is a release feed: GitHub releases, a signed mirror, or a file the
// admin brought.
type Source interface {
	// Location is where the feed is, for messages, credentials redacted.
	Location() string
	// Releases returns every non-draft release, newest version first.
	Releases(ctx context.Context) ([]*Release, error)
	// Release returns the release whose version equals v ("6.4.1",
	// "v6.4.1" and "6.4.1.0" are the same); drafts are never returned.
	Release(ctx context.Context, v string) (*Release, error)
	// Artifact returns what to download to install rel on goos ("linux":
	// the source tarball; "windows": the MSI), with the digest the feed
	// vouches for and on what basis.
	Artifact(rel *Release, goos string) (Artifact, error)
}

// Latest returns the newest release of src admitted by ch: drafts never,
// prereleases only on ChannelPrerelease.
func Latest(ctx context.Context, src Source, ch Channel) (*Release, error) {
	ch, err := ParseChannel(string(ch))
	if err != nil {
		return nil, err
	}
	rels, err := src.Releases(ctx)
	if err != nil {
		return nil, err
	}
	var best *Release
	for _, r := range rels {
		if ch.Admits(r.Prerelease, r.Draft) && (best == nil || r.Version.GreaterThan(best.Version)) {
			best = r
		}
	}
	if best == nil {
		kind := "stable release"
		if ch == ChannelPrerelease {
			kind = "release"
		}
		return nil, fmt.Errorf("no %s found in feed %s: %w", kind, src.Location(), ErrReleaseNotFound)
	}
	return best, nil
}

// findRelease returns the release of rels whose version equals v.
func findRelease(rels []*Release, v, where string) (*Release, error) {
	want, err := ParseVersion(v)
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if !r.Draft && r.Version.Equal(want) {
			return r, nil
		}
	}
	return nil, fmt.Errorf("release %s not found in feed %s: %w", v, where, ErrReleaseNotFound)
}

// GitHubFeed reads releases from the GitHub REST API (or anything with its
// shape: GitHub Enterprise, a test stand-in).
type GitHubFeed struct {
	BaseURL   string       // ".../repos/OWNER/REPO"
	Client    *http.Client // nil means http.DefaultClient
	UserAgent string       // "" means "adldapctl"
}

var _ Source = (*GitHubFeed)(nil)

// maxPages bounds how many pages of /releases Release and Releases read.
const maxPages = 20

// Location is the feed's URL without credentials.
func (f *GitHubFeed) Location() string { return redact.URL(f.BaseURL) }

// Release returns the non-draft release whose version equals v.
func (f *GitHubFeed) Release(ctx context.Context, v string) (*Release, error) {
	if _, err := ParseVersion(v); err != nil {
		return nil, err
	}
	rels, err := f.Releases(ctx)
	if err != nil {
		return nil, err
	}
	return findRelease(rels, v, f.Location())
}

// Artifact returns the source tarball on Linux (GitHub publishes no digest
// for it) and the MSI asset, with its digest, on Windows. An artifact
// whose location is not of the feed's kind (see CheckArtifactOrigin) or
// whose name is not a plain file name is refused with ErrVerification.
func (f *GitHubFeed) Artifact(rel *Release, goos string) (Artifact, error) {
	a := rel.SourceArtifact()
	if goos == "windows" {
		var err error
		if a, err = rel.MSIArtifact(); err != nil {
			return Artifact{}, err
		}
	}
	return originChecked(f.BaseURL, a)
}

// originChecked returns a with Feed set to feed, once its name and
// location pass checkArtifactName and CheckArtifactOrigin.
func originChecked(feed string, a Artifact) (Artifact, error) {
	if a.URL == "" {
		return Artifact{}, fmt.Errorf("feed %s gives no location for %s", redact.URL(feed), a.Name)
	}
	if err := checkArtifactName(a.Name); err != nil {
		return Artifact{}, fmt.Errorf("feed %s: %w", redact.URL(feed), err)
	}
	if err := CheckArtifactOrigin(feed, a.URL); err != nil {
		return Artifact{}, err
	}
	a.Feed = feed
	return a, nil
}

// Releases returns every non-draft release, newest version first.
func (f *GitHubFeed) Releases(ctx context.Context) ([]*Release, error) {
	rels, err := f.list(ctx, maxPages)
	if err != nil {
		return nil, err
	}
	out := rels[:0]
	for _, r := range rels {
		if !r.Draft {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := out[i].Version.Compare(out[j].Version); c != 0 {
			return c > 0
		}
		return out[i].PublishedAt.After(out[j].PublishedAt)
	})
	return out, nil
}

type ghRelease struct {
	TagName     string    `json:"tag_name"`
	Prerelease  bool      `json:"prerelease"`
	Draft       bool      `json:"draft"`
	TarballURL  string    `json:"tarball_url"`
	PublishedAt time.Time `json:"published_at"`
	Assets      []struct {
		Name               string `json:"name"`
		BrowserDownloadURL string `json:"browser_download_url"`
		Size               int64  `json:"size"`
		Digest             string `json:"digest"`
	} `json:"assets"`
}

// list reads up to pages pages of {BaseURL}/releases. Releases whose tag
// is not a version are skipped.
func (f *GitHubFeed) list(ctx context.Context, pages int) ([]*Release, error) {
	base := strings.TrimSuffix(f.BaseURL, "/")
	if err := CheckFeedURL(base); err != nil {
		return nil, fmt.Errorf("release feed: %w", err)
	}
	if !IsGitHubFeedURL(base) {
		return nil, fmt.Errorf("release feed %s is not a GitHub releases URL (expected .../repos/OWNER/REPO)", redact.URL(base))
	}
	next := base + "/releases?per_page=100"
	var out []*Release
	for page := 0; page < pages && next != ""; page++ {
		body, link, err := f.get(ctx, next)
		if err != nil {
			return nil, err
		}
		rels, err := parseGitHubReleases(body)
		if err != nil {
			return nil, fmt.Errorf("release feed %s: response is not GitHub release JSON: %w", redact.URL(next), err)
		}
		out = append(out, rels...)
		next = nextLink(link)
		if next != "" {
			if err := checkNextPage(base, next); err != nil {
				return nil, fmt.Errorf("release feed pagination: %w", err)
			}
		}
	}
	return out, nil
}

// parseGitHubReleases decodes one page of GitHub's /releases JSON.
// Releases whose tag is not a version are skipped. It trusts nothing in
// the body: locations are checked when an artifact is chosen (Artifact).
func parseGitHubReleases(body []byte) ([]*Release, error) {
	var raw []ghRelease
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	var out []*Release
	for _, g := range raw {
		v, err := ParseVersion(g.TagName)
		if err != nil {
			continue
		}
		r := &Release{
			Version:     v,
			Tag:         g.TagName,
			Prerelease:  g.Prerelease || v.Prerelease() != "",
			Draft:       g.Draft,
			TarballURL:  g.TarballURL,
			PublishedAt: g.PublishedAt,
		}
		for _, a := range g.Assets {
			r.Assets = append(r.Assets, Asset{Name: a.Name, URL: a.BrowserDownloadURL, Size: a.Size, Digest: a.Digest})
		}
		out = append(out, r)
	}
	return out, nil
}

// checkNextPage refuses a pagination link that CheckFeedURL refuses or
// that changes the feed's kind (a remote feed paging to a loopback host).
func checkNextPage(base, next string) error {
	if err := CheckFeedURL(next); err != nil {
		return err
	}
	b, _, _ := classifyURL(base)
	n, _, _ := classifyURL(next)
	if b == nil || n == nil {
		return fmt.Errorf("next page %s is not a URL", redact.URL(next))
	}
	if reason := remoteOriginProblem(b, n); reason != "" {
		return fmt.Errorf("next page %s refused: %s", redact.URL(next), reason)
	}
	return nil
}

// maxFeedBody bounds a feed response.
const maxFeedBody = 32 << 20

// get GETs u and returns its body (at most maxFeedBody bytes) and Link
// header.
func (f *GitHubFeed) get(ctx context.Context, u string) (body []byte, link string, err error) {
	red := redact.URL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", fmt.Errorf("release feed %s: %s", red, parseErrorReason(err))
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	ua := f.UserAgent
	if ua == "" {
		ua = "adldapctl"
	}
	req.Header.Set("User-Agent", ua)
	resp, err := guardRedirects(f.Client).Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("release feed %s cannot be reached: %w", red, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", feedStatusError(red, resp)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxFeedBody+1))
	if err != nil {
		return nil, "", fmt.Errorf("release feed %s: read response: %w", red, unwrapURLError(err))
	}
	if len(body) > maxFeedBody {
		return nil, "", fmt.Errorf("release feed %s: response larger than %d MB", red, maxFeedBody>>20)
	}
	return body, resp.Header.Get("Link"), nil
}

func feedStatusError(red string, resp *http.Response) error {
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&msg)
	detail := ""
	if m := strings.TrimSpace(msg.Message); m != "" {
		if len(m) > 200 {
			m = m[:200] + "..."
		}
		detail = ": " + strconv.Quote(m)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("release feed %s not found (HTTP 404)%s: check --feed (expected https://api.github.com/repos/OWNER/REPO)", red, detail)
	case resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0":
		when := "later"
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			when = "after " + time.Unix(s, 0).UTC().Format(time.RFC3339)
		} else if ra := resp.Header.Get("Retry-After"); ra != "" {
			when = "in " + ra + " seconds"
		}
		return fmt.Errorf("release feed %s: GitHub API rate limit exceeded (HTTP %d)%s: try again %s, or use a mirror feed (--feed)", red, resp.StatusCode, detail, when)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("release feed %s refused access (HTTP %d)%s", red, resp.StatusCode, detail)
	}
	return fmt.Errorf("release feed %s: HTTP %s%s", red, resp.Status, detail)
}

// nextLink returns the rel="next" target of a Link header, or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}

// guardRedirects returns a copy of c that refuses redirects to anything
// CheckFeedURL would refuse (an https feed must not be downgraded to http)
// and redirects that change the first request's kind (a remote URL sent
// to a loopback host; see CheckArtifactOrigin).
func guardRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cc := *c
	prev := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkRemote(req.URL); err != nil {
			return &refusedRedirectError{fmt.Errorf("redirect: %w", err)}
		}
		if err := checkRedirectOrigin(req, via); err != nil {
			return &refusedRedirectError{err}
		}
		if prev != nil {
			return prev(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}
