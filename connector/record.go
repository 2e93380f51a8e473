package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
)

// InstallRecord is what adldapctl knows about the installed connector. The
// version comes from the release tag: the connector's package.json says
// 0.0.0 in release tarballs.
type InstallRecord struct {
	Version     string    `json:"version"`
	Tag         string    `json:"tag,omitempty"`
	Source      string    `json:"source,omitempty"` // URL or file it came from (no credentials)
	SHA256      string    `json:"sha256,omitempty"`
	Verified    string    `json:"verified,omitempty"` // digest | user-sha256 | signature | none
	InstalledAt time.Time `json:"installed_at"`
	Node        string    `json:"node,omitempty"`
	Previous    string    `json:"previous_version,omitempty"`
	LastResult  string    `json:"last_result,omitempty"`
}

// RecordFile is the install record's name in the state dir.
const RecordFile = "install.json"

// ErrRecordInvalid is wrapped by every error about the content of an
// install record (empty, not JSON, or missing what adldapctl needs).
var ErrRecordInvalid = errors.New("install record is invalid")

// RecordError is a damaged install record file.
type RecordError struct {
	Path string // the record file
	Err  error  // what is wrong; wraps ErrRecordInvalid
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("install record %s is damaged (%v): move it aside and run adldapctl install to repair", e.Path, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Validate reports whether r may be written or trusted: the version is
// present and parses (6.4.1, v6.4.1, 6.5.0-rc.1), and so does the previous
// version when one is named, and the install time is set. It wraps
// ErrRecordInvalid.
func (r *InstallRecord) Validate() error {
	if r == nil {
		return fmt.Errorf("%w: no record", ErrRecordInvalid)
	}
	if strings.TrimSpace(r.Version) == "" {
		return fmt.Errorf("%w: no version", ErrRecordInvalid)
	}
	if _, err := version.NewVersion(strings.TrimSpace(r.Version)); err != nil {
		return fmt.Errorf("%w: version %q is not a version", ErrRecordInvalid, r.Version)
	}
	if r.Previous != "" {
		if _, err := version.NewVersion(strings.TrimSpace(r.Previous)); err != nil {
			return fmt.Errorf("%w: previous_version %q is not a version", ErrRecordInvalid, r.Previous)
		}
	}
	if r.InstalledAt.IsZero() {
		return fmt.Errorf("%w: no installed_at", ErrRecordInvalid)
	}
	return nil
}

// ParseRecord parses and validates install record bytes (as kept in a
// journal or read from a file). Empty input, anything but one JSON object,
// and a record Validate refuses wrap ErrRecordInvalid.
func ParseRecord(data []byte) (*InstallRecord, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrRecordInvalid)
	}
	var r InstallRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecordInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the record", ErrRecordInvalid)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReadRecord reads the install record at path. It returns an error wrapping
// os.ErrNotExist when there is none, and a *RecordError (naming path and
// the repair, wrapping ErrRecordInvalid) when the file is empty, not JSON,
// or fails Validate.
func ReadRecord(path string) (*InstallRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseRecord(b)
	if err != nil {
		return nil, &RecordError{Path: path, Err: err}
	}
	return r, nil
}

// Marshal renders the record without checking it; Encode is the form to
// write.
func (r *InstallRecord) Marshal() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// Encode validates and renders the record: the only bytes adldapctl should
// write to an install record file or journal.
func (r *InstallRecord) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r.Marshal(), nil
}
