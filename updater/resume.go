package updater

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// partialState is the sidecar <name>.partial.json that makes a kept
// <name>.partial resumable: which artifact the bytes belong to and the
// validator the server gave for them. It is written as soon as a
// response's headers are accepted, before any of its body, so after a
// crash it still describes the bytes on disk.
type partialState struct {
	// URL is the artifact URL, password redacted (it is compared, never
	// requested).
	URL string `json:"url"`
	// Validator is the response's strong ETag, else its Last-Modified:
	// sent back as If-Range so that the server only continues the same
	// file.
	Validator string `json:"validator"`
	// Size is the whole artifact's size as the server announced it; -1
	// when unknown.
	Size int64 `json:"size"`
	// SHA256 is the feed's digest of the artifact ("" when none); a feed
	// that now announces another digest describes another file.
	SHA256 string `json:"sha256,omitempty"`
}

func sidecarPath(partial string) string { return partial + ".json" }

// readPartialState returns the sidecar, or nil when it is missing or
// unreadable (then the partial is not resumable).
func readPartialState(path string) *partialState {
	b, err := readOwnFile(path, 64<<10)
	if err != nil {
		return nil
	}
	var st partialState
	if err := json.Unmarshal(b, &st); err != nil || st.URL == "" || st.Validator == "" {
		return nil
	}
	return &st
}

// matches reports whether st describes the bytes of artifact a (whose
// feed digest, normalized, is feedSum).
func (st *partialState) matches(a Artifact, feedSum string) bool {
	return st != nil && st.URL == redact.URL(a.URL) &&
		st.SHA256 == feedSum &&
		(a.Size <= 0 || st.Size < 0 || st.Size == a.Size)
}

// writePartialState replaces the sidecar atomically.
func writePartialState(path string, st *partialState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeOwnFile(path, append(b, '\n'))
}

// validatorOf returns what to send as If-Range to continue resp's body: a
// strong ETag, else Last-Modified, else "" (weak ETags cannot be used for
// ranges, and without a validator a resumed file could splice two
// versions).
func validatorOf(resp *http.Response) string {
	if et := strings.TrimSpace(resp.Header.Get("ETag")); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	if lm := strings.TrimSpace(resp.Header.Get("Last-Modified")); lm != "" {
		if _, err := http.ParseTime(lm); err == nil {
			return lm
		}
	}
	return ""
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL" (TOTAL may be "*":
// total is then -1).
func parseContentRange(s string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err error
	if first, err = strconv.ParseInt(a, 10, 64); err != nil || first < 0 {
		return 0, 0, 0, false
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total <= last {
			return 0, 0, 0, false
		}
	}
	return first, last, total, true
}
